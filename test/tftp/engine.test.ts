/**
 * Downloads through the native read engine from the memory cache and from a
 * shared descriptor, lock-step and windowed, byte-exact; aborts and a vanished
 * client leave no transfer behind.
 */
import { afterAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RawPeer, run, sha256, startServer, tmpdir, until, type Started } from './helpers.js';

const root = tmpdir();
const out = tmpdir('lb-tftp-out-');
// 0 and exact multiples of the blksize end with an empty block; 300 KiB takes the fd path below.
const files: Record<string, Buffer> = {
  empty: Buffer.alloc(0),
  b512: crypto.randomBytes(512),
  odd: crypto.randomBytes(70_001),
  big: crypto.randomBytes(300 * 1024 + 3),
};
for (const [n, b] of Object.entries(files)) fs.writeFileSync(path.join(root, n), b);

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(out, { recursive: true, force: true });
});

describe('TFTP read engine', () => {
  let srv: Started;
  afterAll(async () => srv?.stop());

  it('serves cached and descriptor-backed files byte-exact, lock-step and windowed', async () => {
    // cache_file_max 128 KiB: "big" streams from a shared fd, the rest from memory.
    srv = await startServer({ root, cache_file_max: 128 * 1024 });
    const port = String(srv.port);
    const clients: Array<[string, (f: string, d: string) => ReturnType<typeof run>]> = [
      ['curl', (f, d) => run('curl', ['-s', '-S', '-o', d, `tftp://127.0.0.1:${port}/${f}`])],
      ['curl-1468', (f, d) => run('curl', ['-s', '-S', '--tftp-blksize', '1468', '-o', d, `tftp://127.0.0.1:${port}/${f}`])],
      ['atftp-w8', (f, d) => run('atftp', ['-g', '-r', f, '-l', d, '--option', 'blksize 1024', '--option', 'windowsize 8', '127.0.0.1', port])],
    ];
    for (const [cname, get] of clients) {
      for (const [fname, body] of Object.entries(files)) {
        const d = path.join(out, `${cname}-${fname}`);
        const r = await get(fname, d);
        expect(r.code, `${cname} ${fname}: ${r.stderr}`).toBe(0);
        expect(sha256(fs.readFileSync(d)), `${cname} ${fname}`).toBe(sha256(body));
      }
    }
    expect(await until(() => srv.server.active === 0)).toBe(true);
    const done = srv.logs.filter((l) => l.event === 'tftp.done');
    expect(done.length).toBe(clients.length * Object.keys(files).length);
    expect(done.find((l) => l.file === 'big')).toMatchObject({ bytes: files.big!.length, outcome: 'ok' });
  });

  it('aborts running transfers on stop: sockets freed, no late callback', async () => {
    const s2 = await startServer({ root, timeout: 0.2 });
    const peers = await Promise.all([0, 1, 2].map(() => new RawPeer().bind()));
    peers.forEach((p, i) => p.rrq(s2.port, i === 2 ? 'big' : 'odd', i === 1 ? [['windowsize', '4']] : []));
    for (const p of peers) {
      let m = await p.recv();
      if (m?.p?.op === 'OACK') {
        p.send({ op: 'ACK', block: 0 }, m.port); // into the windowed data phase
        m = await p.recv();
      }
      expect(m?.p).toMatchObject({ op: 'DATA', block: 1 });
      while (await p.recv(50)); // drain the rest of the window
    }
    expect(s2.server.active).toBe(3);
    await s2.stop();
    expect(s2.server.active).toBe(0);
    const before = s2.logs.length;
    await new Promise((r) => setTimeout(r, 600)); // past several RTOs: nothing may fire now
    expect(s2.logs.length).toBe(before);
    for (const p of peers) {
      expect(await p.recv(300)).toBeNull(); // no retransmission after the abort
      p.close();
    }
  });

  it('frees a transfer at once when the client port is gone (ICMP unreachable)', async () => {
    const peer = await new RawPeer().bind();
    peer.rrq(srv.port, 'odd', [['timeout', '1']]);
    const m = await peer.recv();
    expect(m?.p).toMatchObject({ op: 'OACK' });
    peer.close(); // the OACK retransmission after 1 s draws a port unreachable
    expect(await until(() => srv.server.active === 0, 5000)).toBe(true);
    expect(srv.logs.find((l) => l.event === 'tftp.failed' && l.file === 'odd')).toMatchObject({ outcome: 'client-gone' });
  });

  it('netascii and generated files take the same engine: converted bytes on the wire', async () => {
    fs.writeFileSync(path.join(root, 'text'), 'a\nb\rc');
    const s3 = await startServer({ root }, { generate: (p) => (p === 'gen' ? { contentType: 'text/plain', body: 'x'.repeat(600) } : undefined) });
    try {
      const peer = await new RawPeer().bind();
      peer.rrq(s3.port, 'text', [], 'netascii');
      const m = await peer.recv();
      expect(m?.p).toMatchObject({ op: 'DATA', block: 1 });
      expect(m!.raw.subarray(4)).toEqual(Buffer.from('a\r\nb\r\0c'));
      peer.send({ op: 'ACK', block: 1 }, m!.port);
      expect(await until(() => s3.server.active === 0)).toBe(true);
      const p2 = await new RawPeer().bind();
      p2.rrq(s3.port, 'gen', [['blksize', '512']]);
      const o = await p2.recv();
      expect(o?.p).toMatchObject({ op: 'OACK' });
      p2.send({ op: 'ACK', block: 0 }, o!.port);
      const d1 = await p2.recv();
      expect(d1!.raw.length).toBe(4 + 512);
      p2.send({ op: 'ACK', block: 1 }, d1!.port);
      const d2 = await p2.recv();
      expect(d2!.raw.subarray(4).toString()).toBe('x'.repeat(88));
      p2.send({ op: 'ACK', block: 2 }, d2!.port);
      expect(await until(() => s3.server.active === 0)).toBe(true);
      p2.close();
      expect(s3.logs.filter((l) => l.event === 'tftp.done').map((l) => [l.file, l.mode, l.generated, l.bytes])).toEqual([
        ['text', 'netascii', undefined, 7],
        ['gen', undefined, true, 600],
      ]);
      peer.close();
    } finally {
      await s3.stop();
    }
  });
});
