/** Protocol behaviour seen from a raw peer: options, TID checks, probe, Sorcerer, go-back, limits, uploads. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawPeer, run, sha256, startServer, tmpdir, until, type Started } from './helpers.js';
import type { TftpPacket } from '../../src/codec/tftp.js';

let root: string;
let srv: Started;
const file = crypto.randomBytes(100_000);

beforeAll(async () => {
  root = tmpdir();
  fs.writeFileSync(path.join(root, 'file.bin'), file);
  srv = await startServer(
    { root, timeout: 2 },
    {
      policy: (c) =>
        c.mac === '00:11:22:33:44:55' ? { refuseOptions: ['tsize'], blksizeMax: 1024 } : { refuseOptions: [] },
      macFor: (ip) => (ip === '127.0.0.1' ? '00:11:22:33:44:55' : undefined),
    },
  );
});
afterAll(async () => {
  await srv?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Lock-step download with a raw peer; `dupAcks` sends every ACK twice. */
async function download(peer: RawPeer, opts: { blksize?: number; dupAcks?: boolean; port: number }): Promise<{ data: Buffer; dataPackets: number }> {
  const options: Array<[string, string]> = opts.blksize ? [['blksize', String(opts.blksize)]] : [];
  peer.rrq(opts.port, 'file.bin', options);
  let B = 512;
  const chunks: Buffer[] = [];
  let expect = 1;
  let dataPackets = 0;
  for (let i = 0; i < 100_000; i++) {
    const m = await peer.recv(5000);
    if (!m || !m.p) throw new Error('timeout');
    const p = m.p;
    if (p.op === 'OACK') {
      B = Number(p.options.find(([k]) => k === 'blksize')?.[1] ?? 512);
      peer.send({ op: 'ACK', block: 0 }, m.port);
      continue;
    }
    if (p.op !== 'DATA') throw new Error(`unexpected ${p.op}`);
    dataPackets++;
    if (p.block === (expect & 0xffff)) {
      chunks.push(Buffer.from(p.data));
      expect++;
    }
    peer.send({ op: 'ACK', block: p.block }, m.port);
    if (opts.dupAcks) peer.send({ op: 'ACK', block: p.block }, m.port);
    if (p.block === ((expect - 1) & 0xffff) && p.data.length < B) break;
  }
  return { data: Buffer.concat(chunks), dataPackets };
}

describe('options (RFC 2347/2348/2349/7440)', () => {
  it('sends DATA 1 directly when no option is asked', async () => {
    const peer = await new RawPeer().bind();
    peer.rrq(srv.port, 'file.bin');
    const m = await peer.recv();
    expect(m?.p).toMatchObject({ op: 'DATA', block: 1 });
    expect((m!.p as { data: Buffer }).data.length).toBe(512);
    peer.send({ op: 'ERROR', code: 0, message: 'bye' }, m!.port);
    peer.close();
  });

  it('acknowledges only requested options, applying the policy quirks', async () => {
    const peer = await new RawPeer().bind();
    peer.rrq(srv.port, 'file.bin', [['BLKSIZE', '4096'], ['tsize', '0'], ['timeout', '3'], ['windowsize', '4'], ['foo', '1']]);
    const m = await peer.recv();
    // policy for this MAC: tsize refused, blksize capped at 1024
    expect(m?.p).toEqual({ op: 'OACK', options: [['BLKSIZE', '1024'], ['timeout', '3'], ['windowsize', '4']] });
    peer.send({ op: 'ERROR', code: 8, message: 'done' }, m!.port);
    peer.close();
  });

  it('caps blksize at 65464, ignores invalid values and huge numbers', async () => {
    const s2 = await startServer({ root });
    const peer = await new RawPeer().bind();
    peer.rrq(s2.port, 'file.bin', [['blksize', '99999999999999999'], ['windowsize', '0'], ['timeout', '999'], ['tsize', 'x']]);
    const m = await peer.recv();
    expect(m?.p).toEqual({ op: 'OACK', options: [['blksize', '65464']] });
    peer.send({ op: 'ERROR', code: 8, message: 'done' }, m!.port);
    peer.rrq(s2.port, 'file.bin', [['tsize', '0'], ['blksize', '7']]);
    const m2 = await peer.recv();
    expect(m2?.p).toEqual({ op: 'OACK', options: [['tsize', String(file.length)]] });
    peer.send({ op: 'ERROR', code: 8, message: 'done' }, m2!.port);
    peer.close();
    await s2.stop();
  });

  it('handles the UEFI size probe (tsize=0, then error 8) quietly and frees it', async () => {
    const s2 = await startServer({ root });
    const peer = await new RawPeer().bind();
    peer.rrq(s2.port, 'file.bin', [['tsize', '0'], ['blksize', '1468']]);
    const m = await peer.recv();
    expect(m?.p).toEqual({ op: 'OACK', options: [['tsize', '100000'], ['blksize', '1468']] });
    peer.send({ op: 'ERROR', code: 8, message: 'User aborted the transfer' }, m!.port);
    expect(await until(() => s2.server.active === 0)).toBe(true);
    expect(s2.logs.filter((l) => (l.level as number) >= 40)).toEqual([]);
    expect(s2.logs.filter((l) => l.event === 'tftp.failed')).toEqual([]);
    expect(s2.logs.find((l) => l.event === 'tftp.probe')).toMatchObject({ outcome: 'probe', level: 20 });
    // the real download right after works
    const peer2 = await new RawPeer().bind();
    const r = await download(peer2, { port: s2.port, blksize: 1468 });
    expect(r.data.equals(file)).toBe(true);
    peer.close();
    peer2.close();
    await s2.stop();
  });
});

describe('transfer behaviour', () => {
  it('answers a wrong TID with error 5 and keeps the transfer going', async () => {
    const s2 = await startServer({ root });
    const peer = await new RawPeer().bind();
    const stranger = await new RawPeer().bind();
    peer.rrq(s2.port, 'file.bin');
    const first = await peer.recv();
    expect(first?.p).toMatchObject({ op: 'DATA', block: 1 });
    stranger.send({ op: 'ACK', block: 1 }, first!.port);
    const e = await stranger.recv();
    expect(e?.p).toMatchObject({ op: 'ERROR', code: 5 });
    expect(e?.port).toBe(first!.port);
    // continue the real transfer from block 1
    const chunks = [(first!.p as { data: Buffer }).data];
    peer.send({ op: 'ACK', block: 1 }, first!.port);
    for (let b = 2; ; b++) {
      const m = await peer.recv();
      const p = m!.p as Extract<TftpPacket, { op: 'DATA' }>;
      expect(p.op).toBe('DATA');
      expect(p.block).toBe(b);
      chunks.push(p.data);
      peer.send({ op: 'ACK', block: b }, m!.port);
      if (p.data.length < 512) break;
    }
    expect(Buffer.concat(chunks).equals(file)).toBe(true);
    peer.close();
    stranger.close();
    await s2.stop();
  });

  it('does not double traffic on duplicate ACKs (Sorcerer\'s Apprentice)', async () => {
    const s2 = await startServer({ root });
    const peer = await new RawPeer().bind();
    const r = await download(peer, { port: s2.port, dupAcks: true });
    expect(r.data.equals(file)).toBe(true);
    await until(() => s2.logs.some((l) => l.event === 'tftp.done'));
    const done = s2.logs.find((l) => l.event === 'tftp.done')!;
    const blocks = Math.floor(file.length / 512) + 1;
    // every DATA we saw is a first send or a timer retransmission, never a reply to a duplicate ACK
    expect(r.dataPackets).toBe(blocks + (done.retransmissions as number));
    expect(done.retransmissions as number).toBeLessThan(blocks / 10);
    peer.close();
    await s2.stop();
  });

  it('goes back on a windowed transfer when a block is lost (RFC 7440)', async () => {
    const s2 = await startServer({ root });
    const peer = await new RawPeer().bind();
    peer.rrq(s2.port, 'file.bin', [['windowsize', '4'], ['blksize', '1000']]);
    const oack = await peer.recv();
    expect(oack?.p).toMatchObject({ op: 'OACK' });
    peer.send({ op: 'ACK', block: 0 }, oack!.port);
    const drop = new Set([3, 9, 10, 57]); // "lost" once each
    const chunks: Buffer[] = [];
    let expect_ = 1;
    let inWindow = 0;
    for (let i = 0; i < 10_000; i++) {
      const m = await peer.recv();
      const p = m!.p as Extract<TftpPacket, { op: 'DATA' }>;
      if (drop.has(p.block)) {
        drop.delete(p.block);
        continue;
      }
      if (p.block !== expect_) {
        // gap: ack the last in-order block, once per gap
        if (p.block > expect_) {
          peer.send({ op: 'ACK', block: expect_ - 1 }, m!.port);
          // swallow the rest of this window
          while (await peer.recv(100));
          inWindow = 0;
        }
        continue;
      }
      chunks.push(p.data);
      expect_++;
      inWindow++;
      const last = p.data.length < 1000;
      if (inWindow === 4 || last) {
        inWindow = 0;
        peer.send({ op: 'ACK', block: p.block }, m!.port);
      }
      if (last) break;
    }
    expect(Buffer.concat(chunks).equals(file)).toBe(true);
    await until(() => s2.logs.some((l) => l.event === 'tftp.done'));
    expect((s2.logs.find((l) => l.event === 'tftp.done')!.retransmissions as number) > 0).toBe(true);
    peer.close();
    await s2.stop();
  });

  it('drops and counts a request longer than the listening socket\'s 4 KiB slot, then serves the next', async () => {
    const peer = await new RawPeer().bind();
    // RFC 2347 keeps a request within 512 bytes; a 5 KiB filename is nobody's boot.
    peer.send(Buffer.concat([Buffer.from([0, 1]), Buffer.from('x'.repeat(5000) + '\0octet\0')]), srv.port);
    const truncated = () =>
      [...srv.telemetry.counters.values()].some((c) => c.name === 'lanboot_tftp_dropped_total' && c.labels.reason === 'truncated');
    expect(await until(truncated, 2000)).toBe(true);
    expect(await peer.recv(200)).toBeFalsy();
    peer.rrq(srv.port, 'file.bin');
    expect((await peer.recv())?.p).toMatchObject({ op: 'DATA', block: 1 });
    peer.close();
  });

  it('frees a transfer whose final ACK never comes', async () => {
    const s2 = await startServer({ root, timeout: 0.05, retries: 3 });
    fs.writeFileSync(path.join(root, 'tiny'), 'x');
    const peer = await new RawPeer().bind();
    peer.rrq(s2.port, 'tiny');
    const m = await peer.recv();
    expect(m?.p).toMatchObject({ op: 'DATA', block: 1 });
    expect(await until(() => s2.server.active === 0, 5000)).toBe(true);
    const repeats = peer.drain();
    expect(repeats).toBeGreaterThan(0);
    expect(repeats).toBeLessThanOrEqual(10);
    expect(s2.logs.find((l) => l.event === 'tftp.failed')).toMatchObject({ outcome: 'final-ack-timeout' });
    // and it stops retransmitting
    await new Promise((r) => setTimeout(r, 300));
    expect(peer.drain()).toBe(0);
    peer.close();
    await s2.stop();
  });

  it('refuses transfers past max_transfers with a clear error', async () => {
    const s2 = await startServer({ root, max_transfers: 2 });
    const peers = await Promise.all([0, 1, 2].map(() => new RawPeer().bind()));
    peers[0]!.rrq(s2.port, 'file.bin');
    peers[1]!.rrq(s2.port, 'file.bin');
    const a = await peers[0]!.recv();
    const b = await peers[1]!.recv();
    expect(a?.p?.op).toBe('DATA');
    expect(b?.p?.op).toBe('DATA');
    peers[2]!.rrq(s2.port, 'file.bin');
    const c = await peers[2]!.recv();
    expect(c?.p).toMatchObject({ op: 'ERROR', code: 0 });
    expect((c!.p as { message: string }).message).toMatch(/too many transfers/i);
    const views = s2.server.transferViews();
    expect(views.length).toBe(2);
    expect(views[0]).toMatchObject({ file: 'file.bin', direction: 'read', size: file.length, blksize: 512, windowsize: 1 });
    // a reload raises the limit for new requests
    s2.server.setConfig({ ...(await import('./helpers.js')).baseConfig(root), max_transfers: 3 });
    peers[2]!.rrq(s2.port, 'file.bin');
    const c2 = await peers[2]!.recv();
    expect(c2?.p?.op).toBe('DATA');
    peers[2]!.send({ op: 'ERROR', code: 0, message: 'x' }, c2!.port);
    peers[0]!.send({ op: 'ERROR', code: 0, message: 'x' }, a!.port);
    peers[1]!.send({ op: 'ERROR', code: 0, message: 'x' }, b!.port);
    expect(await until(() => s2.server.active === 0)).toBe(true);
    peers.forEach((p) => p.close());
    await s2.stop();
  });

  it('uses ports from the configured range', async () => {
    const s2 = await startServer({ root, port_range: [40100, 40103] });
    const peer = await new RawPeer().bind();
    peer.rrq(s2.port, 'file.bin');
    const m = await peer.recv();
    expect(m!.port).toBeGreaterThanOrEqual(40100);
    expect(m!.port).toBeLessThanOrEqual(40103);
    peer.send({ op: 'ERROR', code: 0, message: 'x' }, m!.port);
    peer.close();
    await s2.stop();
  });
});

describe('writes', () => {
  it('refuses writes by default', async () => {
    const peer = await new RawPeer().bind();
    peer.send({ op: 'WRQ', filename: 'x', mode: 'octet', options: [] }, srv.port);
    const m = await peer.recv();
    expect(m?.p).toMatchObject({ op: 'ERROR', code: 2 });
    expect(fs.existsSync(path.join(root, 'x'))).toBe(false);
    peer.close();
  });

  it('accepts uploads only into upload_dir and never overwrites', async () => {
    const up = tmpdir('lb-tftp-up-');
    const s2 = await startServer({ root, upload_dir: up });
    const src = path.join(up, '..', `lb-src-${process.pid}`);
    const data = crypto.randomBytes(70_000);
    fs.writeFileSync(src, data);
    const r = await run('tftp', ['127.0.0.1', String(s2.port), '-m', 'binary', '-c', 'put', src, 'up.bin']);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(path.join(up, 'up.bin'))).toBe(sha256(data));
    expect(fs.existsSync(path.join(root, 'up.bin'))).toBe(false);
    // windowed upload with atftp
    const r2 = await run('atftp', ['-p', '-l', src, '-r', 'win.bin', '--option', 'windowsize 8', '--option', 'blksize 1400', '127.0.0.1', String(s2.port)]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(sha256(path.join(up, 'win.bin'))).toBe(sha256(data));
    // exists -> error 6, content untouched
    const peer = await new RawPeer().bind();
    peer.send({ op: 'WRQ', filename: 'up.bin', mode: 'octet', options: [] }, s2.port);
    expect((await peer.recv())?.p).toMatchObject({ op: 'ERROR', code: 6 });
    peer.send({ op: 'WRQ', filename: '../escape.bin', mode: 'octet', options: [] }, s2.port);
    expect((await peer.recv())?.p).toMatchObject({ op: 'ERROR', code: 2 });
    expect(fs.existsSync(path.join(up, '..', 'escape.bin'))).toBe(false);
    expect(sha256(path.join(up, 'up.bin'))).toBe(sha256(data));
    // no temp files left behind
    expect(fs.readdirSync(up).sort()).toEqual(['up.bin', 'win.bin']);
    peer.close();
    await s2.stop();
    fs.rmSync(up, { recursive: true, force: true });
    fs.rmSync(src, { force: true });
  });
});
