/**
 * Real clients against the server on loopback: curl, atftp, tftp-hpa's tftp
 * and busybox tftp, every download compared by sha256.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run, sha256, startServer, tmpdir, until, type Started } from './helpers.js';

const SIZES = [0, 511, 512, 513, 1 << 20];
// More than 65535 blocks of 512 bytes: the block number must wrap to 0.
const BIG = 65535 * 512 + 4321;

let root: string;
let out: string;
let srv: Started;
const sums = new Map<string, string>();

beforeAll(async () => {
  root = tmpdir();
  out = tmpdir('lb-tftp-out-');
  for (const n of SIZES) {
    const b = crypto.randomBytes(n);
    fs.writeFileSync(path.join(root, `f${n}`), b);
    sums.set(`f${n}`, sha256(b));
  }
  const big = crypto.randomBytes(BIG);
  fs.writeFileSync(path.join(root, 'big'), big);
  sums.set('big', sha256(big));
  fs.mkdirSync(path.join(root, 'sub'));
  fs.writeFileSync(path.join(root, 'sub', 'text.cfg'), 'line one\nline two\r\nbare\rcr\n');
  srv = await startServer(
    { root, cache_file_max: 8 << 20 },
    {
      macFor: (ip) => (ip === '127.0.0.1' ? '52:54:00:aa:bb:01' : undefined),
      generate: (p, client) =>
        p === 'boot/script.ipxe' ? { contentType: 'text/plain', body: `#!ipxe\necho hello ${client.mac}\n` } : undefined,
    },
  );
});

afterAll(async () => {
  await srv?.stop();
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(out, { recursive: true, force: true });
});

type Client = { name: string; get(file: string, dest: string): Promise<{ code: number; stderr: string }> };

const clients = (): Client[] => {
  const port = String(srv.port);
  return [
    { name: 'curl', get: (f, d) => run('curl', ['-s', '-S', '-o', d, `tftp://127.0.0.1:${port}/${f}`]) },
    {
      name: 'curl blksize 1468',
      get: (f, d) => run('curl', ['-s', '-S', '--tftp-blksize', '1468', '-o', d, `tftp://127.0.0.1:${port}/${f}`]),
    },
    {
      name: 'atftp blksize 1024 windowsize 8',
      get: (f, d) =>
        run('atftp', ['-g', '-r', f, '-l', d, '--option', 'blksize 1024', '--option', 'windowsize 8', '127.0.0.1', port]),
    },
    { name: 'atftp plain', get: (f, d) => run('atftp', ['-g', '-r', f, '-l', d, '127.0.0.1', port]) },
    { name: 'tftp-hpa', get: (f, d) => run('tftp', ['127.0.0.1', port, '-m', 'binary', '-c', 'get', f, d]) },
    { name: 'busybox', get: (f, d) => run('busybox', ['tftp', '-g', '-r', f, '-l', d, '127.0.0.1', port]) },
    { name: 'busybox -b 8192', get: (f, d) => run('busybox', ['tftp', '-g', '-b', '8192', '-r', f, '-l', d, '127.0.0.1', port]) },
  ];
};

describe('real clients, byte-exact', () => {
  it('serves every size to every client', async () => {
    const fails: string[] = [];
    for (const c of clients()) {
      for (const n of SIZES) {
        const dest = path.join(out, `${c.name.replace(/\W+/g, '_')}-${n}`);
        const r = await c.get(`f${n}`, dest);
        const ok = r.code === 0 && fs.existsSync(dest) && sha256(dest) === sums.get(`f${n}`);
        if (!ok) fails.push(`${c.name} f${n}: code ${r.code} ${r.stderr.trim()}`);
      }
    }
    expect(fails).toEqual([]);
  });

  it('serves a file past block 65535 (rollover) to curl and windowed atftp', async () => {
    const port = String(srv.port);
    const d1 = path.join(out, 'big-curl');
    const r1 = await run('curl', ['-s', '-S', '-o', d1, `tftp://127.0.0.1:${port}/big`], 120_000);
    expect(r1.code, r1.stderr).toBe(0);
    expect(sha256(d1)).toBe(sums.get('big'));
    const d2 = path.join(out, 'big-atftp');
    const r2 = await run('atftp', ['-g', '-r', 'big', '-l', d2, '--option', 'windowsize 16', '127.0.0.1', port], 120_000);
    expect(r2.code, r2.stderr).toBe(0);
    expect(sha256(d2)).toBe(sums.get('big'));
    // one log line per finished transfer with the fields operators need
    // The client exits once its last ACK is sent; the server logs when that ACK arrives, a moment later.
    const done = await vi.waitFor(() => {
      const d = srv.logs.filter((l) => l.event === 'tftp.done' && l.file === 'big');
      expect(d.length, JSON.stringify(srv.logs.filter((l) => String(l.event).startsWith('tftp.') && l.file === 'big'))).toBe(2);
      return d;
    }, { timeout: 5000 });
    for (const l of done) {
      expect(l).toMatchObject({ mac: '52:54:00:aa:bb:01', bytes: BIG, blksize: 512, outcome: 'ok' });
      expect(typeof l.duration_ms).toBe('number');
      expect(typeof l.retransmissions).toBe('number');
    }
    expect(done.map((l) => l.windowsize).sort()).toEqual([1, 16]);
  }, 240_000);

  it('maps backslashes and a leading slash into the root; netascii round-trips', async () => {
    const d = path.join(out, 'text');
    const r = await run('tftp', ['127.0.0.1', String(srv.port), '-m', 'ascii', '-c', 'get', '\\sub\\text.cfg', d]);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(d, 'utf8')).toBe(fs.readFileSync(path.join(root, 'sub', 'text.cfg'), 'utf8'));
    const d2 = path.join(out, 'text2');
    const r2 = await run('curl', ['-s', '-S', '-o', d2, `tftp://127.0.0.1:${srv.port}//sub/text.cfg`]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(sha256(d2)).toBe(sha256(path.join(root, 'sub', 'text.cfg')));
  });

  it('serves generated files from the hooks', async () => {
    const d = path.join(out, 'script');
    const r = await run('curl', ['-s', '-S', '-o', d, `tftp://127.0.0.1:${srv.port}/boot/script.ipxe`]);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(d, 'utf8')).toBe('#!ipxe\necho hello 52:54:00:aa:bb:01\n');
  });

  it('reads a popular file from disk once for many concurrent clients', async () => {
    const loadsBefore = srv.server.cache.loads;
    fs.writeFileSync(path.join(root, 'undionly.kpxe'), crypto.randomBytes(70_000));
    const want = sha256(path.join(root, 'undionly.kpxe'));
    const rs = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        run('curl', ['-s', '-S', '--tftp-blksize', '1432', '-o', path.join(out, `u${i}`), `tftp://127.0.0.1:${srv.port}/undionly.kpxe`]),
      ),
    );
    expect(rs.filter((r) => r.code !== 0)).toEqual([]);
    for (let i = 0; i < 30; i++) expect(sha256(path.join(out, `u${i}`))).toBe(want);
    expect(srv.server.cache.loads - loadsBefore).toBe(1);
    expect(await until(() => srv.server.active === 0)).toBe(true);
  });
});
