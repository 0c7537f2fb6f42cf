/**
 * Issue 9 item 6: every netascii RRQ made its own converted copy of the file
 * (1,000 requests: 894 MB). `lanboot start` runs as its own process; 300
 * netascii RRQs for a 1 MiB text file stay open at once (their DATA is never
 * ACKed) while the process's RSS is read: it may grow by a few copies at
 * most, not one per request. A real client (tftp-hpa's tftp in ascii mode)
 * then gets the file's bytes back exactly, tsize in the OACK is the
 * converted size (RFC 2349: the size of what is sent), and a changed file is
 * served as changed.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../src/codec/tftp.js';
import { FileCache } from '../../src/tftp/cache.js';
import { toNetascii } from '../../src/tftp/netascii.js';
import { waitForOutput } from '../helpers/netns.js';
import { RawPeer, run, tmpdir, until } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REQUESTS = 300;
/** 1 MiB of text: lines of 31 characters, LF and the odd bare CR (each becomes two bytes). */
const TEXT = Buffer.from(
  Array.from({ length: 32768 }, (_, i) => `${String(i).padStart(8, '0')} ${i % 97 === 0 ? 'cr\r' : 'lf '}${'='.repeat(19)}\n`).join(''),
);
/**
 * What the process may grow by while the 300 transfers are open. Measured:
 * 2.8 MB with one shared copy; 312 MB before (one 1.06 MiB copy each).
 */
const RSS_GROWTH_MAX = 48 * 1024 * 1024;

let dir: string;
let lanboot: ChildProcess;
let port: number;

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

beforeAll(async () => {
  expect(TEXT.length).toBe(1 << 20);
  dir = tmpdir('lb-netascii-');
  fs.mkdirSync(path.join(dir, 'root'));
  fs.writeFileSync(path.join(dir, 'root', 'big.txt'), TEXT);
  port = await freeUdpPort();
  fs.writeFileSync(
    path.join(dir, 'lanboot.yaml'),
    `state_dir: ./state
log: { level: info }
tftp: { address: 127.0.0.1, port: ${port}, root: ./root }
`,
  );
  lanboot = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), 'start', '--config', path.join(dir, 'lanboot.yaml')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LANBOOT_LOG_LEVEL: undefined },
  });
  await waitForOutput(lanboot, /"event":"tftp.listen"/, 30_000);
}, 60_000);

afterAll(async () => {
  if (lanboot && lanboot.exitCode === null) {
    lanboot.kill('SIGTERM');
    await new Promise((r) => lanboot.once('exit', r));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

/** One netascii RRQ per socket; each socket keeps its first packet. Nobody ACKs. */
async function openTransfers(n: number): Promise<{ firsts: Buffer[]; close(): void }> {
  const socks: dgram.Socket[] = [];
  const firsts: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const s = dgram.createSocket('udp4');
    s.on('message', (m) => {
      if (!firsts[i]) firsts[i] = Buffer.from(m);
    });
    // Ten addresses, 30 transfers each: under tftp.max_transfers_per_client.
    await new Promise<void>((r) => s.bind(0, `127.0.0.${10 + (i % 10)}`, () => r()));
    socks.push(s);
  }
  const rrq = encode({ op: 'RRQ', filename: 'big.txt', mode: 'netascii', options: [] });
  for (const s of socks) s.send(rrq, port, '127.0.0.1');
  return { firsts, close: () => socks.forEach((s) => s.close()) };
}

describe('netascii reads share one converted copy (issue 9 item 6)', () => {
  it(`${REQUESTS} concurrent netascii RRQs for a 1 MiB file: RSS grows by far less than one copy each`, async () => {
    const want = toNetascii(TEXT);
    // Warm up: the file in the cache, the code paths run once.
    const w = await openTransfers(1);
    expect(await until(() => w.firsts.length === 1, 10_000)).toBe(true);
    w.close();
    await new Promise((r) => setTimeout(r, 500));
    const base = rss(lanboot.pid!);

    const t = await openTransfers(REQUESTS);
    try {
      expect(await until(() => t.firsts.filter(Boolean).length === REQUESTS, 20_000)).toBe(true);
      // Every transfer is open (block 1 sent, waiting for its ACK) and sends the converted bytes.
      for (const f of t.firsts) expect(f.subarray(0, 516)).toEqual(Buffer.concat([Buffer.from([0, 3, 0, 1]), want.subarray(0, 512)]));
      const grown = rss(lanboot.pid!) - base;
      expect(grown, `RSS grew by ${(grown / 1048576).toFixed(1)} MB`).toBeLessThan(RSS_GROWTH_MAX);
    } finally {
      t.close();
    }
  }, 60_000);

  it('tftp-hpa in ascii mode gets the file back exactly; tsize is the converted size; a new version is served', async () => {
    const out = path.join(dir, 'got.txt');
    const r = await run('tftp', ['127.0.0.1', String(port), '-m', 'ascii', '-c', 'get', 'big.txt', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(out).equals(TEXT)).toBe(true);

    const peer = await new RawPeer().bind();
    try {
      peer.rrq(port, 'big.txt', [['tsize', '0']], 'netascii');
      const o = await peer.recv();
      expect(o?.p).toEqual({ op: 'OACK', options: [['tsize', String(toNetascii(TEXT).length)]] });
      peer.send({ op: 'ERROR', code: 8, message: 'size probe' }, o!.port);
    } finally {
      peer.close();
    }

    const next = Buffer.from(TEXT.toString().replace(/=/g, '-'));
    fs.writeFileSync(path.join(dir, 'root', 'big.txt'), next);
    fs.utimesSync(path.join(dir, 'root', 'big.txt'), new Date(), new Date(Date.now() + 5000));
    const r2 = await run('tftp', ['127.0.0.1', String(port), '-m', 'ascii', '-c', 'get', 'big.txt', out]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(fs.readFileSync(out).equals(next)).toBe(true);
  }, 60_000);
});

describe('FileCache netascii copies', () => {
  it('one conversion per file version: shared while in use, kept in the LRU, redone for a new version', async () => {
    const root = fs.realpathSync(tmpdir('lb-netascii-cache-'));
    try {
      fs.writeFileSync(path.join(root, 'a.txt'), 'one\ntwo\r\n');
      const cache = new FileCache(1 << 20, 1 << 20);
      const refs = await Promise.all([1, 2, 3].map(() => cache.acquire(root, 'a.txt', 'netascii')));
      expect(cache.conversions).toBe(1);
      expect(refs[0]!.data).toEqual(Buffer.from('one\r\ntwo\r\0\r\n'));
      expect(refs[1]!.data).toBe(refs[0]!.data);
      expect(refs[2]!.size).toBe(refs[0]!.data!.length);
      refs.forEach((r) => r.release());
      // Released by everyone: the LRU still has it.
      const again = await cache.acquire(root, 'a.txt', 'netascii');
      expect(again.data).toBe(refs[0]!.data);
      expect(cache.conversions).toBe(1);
      // The octet read is the file itself.
      expect((await cache.acquire(root, 'a.txt')).data).toEqual(Buffer.from('one\ntwo\r\n'));

      fs.writeFileSync(path.join(root, 'a.txt'), 'three\n');
      fs.utimesSync(path.join(root, 'a.txt'), new Date(), new Date(Date.now() + 5000));
      const next = await cache.acquire(root, 'a.txt', 'netascii');
      expect(next.data).toEqual(Buffer.from('three\r\n'));
      expect(cache.conversions).toBe(2);
      again.release();
      next.release();

      // No LRU room at all (budget smaller than the copy): still one copy while in use.
      const tight = new FileCache(8, 1 << 20);
      fs.writeFileSync(path.join(root, 'b.txt'), 'x\n'.repeat(4));
      const t1 = await tight.acquire(root, 'b.txt', 'netascii');
      const t2 = await tight.acquire(root, 'b.txt', 'netascii');
      expect(t2.data).toBe(t1.data);
      expect(tight.conversions).toBe(1);
      t1.release();
      t2.release();
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
