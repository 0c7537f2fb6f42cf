/**
 * Issue 9 item 5: transfers that never make progress must not hold the
 * server's transfer slots. 1,000 RRQs asking timeout=255 (RFC 2349's largest)
 * and never ACKing once held every slot for ~98 minutes: the engine waited
 * 255 s before its first retransmission, backed off to 1,020 s, and gave up
 * only after its retries. Three caps, each tested on its own, with the real
 * engine over loopback (flooders on other 127/8 addresses than the client):
 * the timeout option honoured (tftp.timeout_max), the time a transfer may go
 * without a new block acknowledged (tftp.no_progress_timeout), and the
 * transfers one client address may hold (tftp.max_transfers_per_client).
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode, type TftpOptions, type TftpPacket } from '../../src/codec/tftp.js';
import { RawPeer, run, sha256, startServer, tmpdir, until, type Started } from './helpers.js';

let root: string;
let out: string;
const file = crypto.randomBytes(300_000);
/** The no-progress cap the tests run with (the default is longer). */
const NO_PROGRESS_S = 3;
/** Slack on top of the cap: engine timers, reporting to JS, 1,000 transfers on 2 shared cores. */
const SLACK_MS = 3000;

beforeAll(() => {
  root = tmpdir();
  out = tmpdir('lb-tftp-limits-');
  fs.writeFileSync(path.join(root, 'file.bin'), file);
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(out, { recursive: true, force: true });
});

/** `count` RRQs, each from its own socket (its own TID) on `addresses` in turn; nobody ever ACKs. */
class Flood {
  readonly socks: dgram.Socket[] = [];
  /** Per socket: every packet it got. */
  readonly got: TftpPacket[][] = [];

  static async start(addresses: string[], count: number, port: number, options: TftpOptions): Promise<Flood> {
    const f = new Flood();
    for (let i = 0; i < count; i++) {
      const s = dgram.createSocket('udp4');
      const mine: TftpPacket[] = [];
      s.on('message', (m) => {
        try {
          mine.push(decode(m));
        } catch {
          /* not TFTP */
        }
      });
      await new Promise<void>((r) => s.bind(0, addresses[i % addresses.length], () => r()));
      f.socks.push(s);
      f.got.push(mine);
    }
    const rrq = encode({ op: 'RRQ', filename: 'file.bin', mode: 'octet', options });
    for (const s of f.socks) s.send(rrq, port, '127.0.0.1');
    return f;
  }

  answered(): number {
    return this.got.filter((g) => g.length > 0).length;
  }

  /** Sockets whose transfer was accepted (first reply an OACK). */
  oacks(): Array<Extract<TftpPacket, { op: 'OACK' }>> {
    return this.got.map((g) => g[0]).filter((p): p is Extract<TftpPacket, { op: 'OACK' }> => p?.op === 'OACK');
  }

  close(): void {
    for (const s of this.socks) s.close();
  }
}

const addrs = (first: number, n: number) => Array.from({ length: n }, (_, i) => `127.0.0.${first + i}`);

async function curlGet(port: number, dest: string): Promise<{ code: number; stderr: string; ms: number }> {
  const t0 = Date.now();
  // curl's own defaults; 30 s is well past its normal TFTP timeout.
  const r = await run('curl', ['-s', '-S', '-o', dest, `tftp://127.0.0.1:${port}/file.bin`], 30_000);
  return { ...r, ms: Date.now() - t0 };
}

describe('TFTP transfer slots under a flood of requests that never ACK (issue 9 item 5)', () => {
  it('1,000 RRQs with timeout=255 from one address: curl is served meanwhile, their slots free within the no-progress cap', async () => {
    const srv: Started = await startServer({ root, no_progress_timeout: NO_PROGRESS_S }, {}, 'info');
    let f: Flood | undefined;
    try {
      const t0 = Date.now();
      f = await Flood.start(['127.0.0.2'], 1000, srv.port, [['blksize', '1432'], ['timeout', '255']]);
      // Every request was looked at (an OACK or an error each), so curl comes after the flood.
      expect(await until(() => f!.answered() === 1000, 10_000)).toBe(true);

      const dest = path.join(out, 'one-address');
      const c = await curlGet(srv.port, dest);
      expect(c.code, c.stderr).toBe(0);
      expect(sha256(dest)).toBe(sha256(file));

      // One address holds at most max_transfers_per_client (default 32); the rest were refused.
      const accepted = f.oacks();
      expect(accepted.length).toBeGreaterThan(0);
      expect(accepted.length).toBeLessThanOrEqual(32);
      expect(f.got.filter((g) => g[0]?.op === 'ERROR').length).toBe(1000 - accepted.length);
      const refused = [...srv.telemetry.counters.values()].find(
        (x) => x.name === 'lanboot_tftp_refused_total' && x.labels.reason === 'client-busy',
      );
      expect(refused?.value).toBe(1000 - accepted.length);
      // 255 s is more than we honour: the OACK leaves timeout out (RFC 2349: echo it or not at all).
      for (const o of accepted) expect(o.options.map(([k]) => k)).toEqual(['blksize']);

      expect(await until(() => srv.server.active === 0, NO_PROGRESS_S * 1000 + SLACK_MS)).toBe(true);
      expect(Date.now() - t0).toBeLessThan(NO_PROGRESS_S * 1000 + SLACK_MS + 2000);
      // Its count went with its transfers: the address is served again.
      const again = await Flood.start(['127.0.0.2'], 1, srv.port, [['blksize', '1432']]);
      expect(await until(() => again.answered() === 1)).toBe(true);
      expect(again.oacks().length).toBe(1);
      again.close();
    } finally {
      f?.close();
      await srv.stop();
    }
  }, 60_000);

  it('1,000 RRQs with timeout=255 honoured, from 50 addresses: every slot is freed within the no-progress cap', async () => {
    // The operator allows timeout up to 255: only the no-progress cap ends these.
    const srv: Started = await startServer({ root, no_progress_timeout: NO_PROGRESS_S, timeout_max: 255 }, {}, 'info');
    let f: Flood | undefined;
    try {
      const t0 = Date.now();
      f = await Flood.start(addrs(10, 50), 1000, srv.port, [['timeout', '255']]);
      expect(await until(() => f!.answered() === 1000, 10_000)).toBe(true);
      expect(f.oacks().length).toBe(1000); // 20 per address: under every cap
      for (const o of f.oacks()) expect(o.options).toEqual([['timeout', '255']]);
      expect(srv.server.active).toBe(1000);

      // The table is full now: a new client is refused until the slots free.
      expect(await until(() => srv.server.active === 0, NO_PROGRESS_S * 1000 + SLACK_MS)).toBe(true);
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(NO_PROGRESS_S * 1000 - 200);
      expect(took).toBeLessThan(NO_PROGRESS_S * 1000 + SLACK_MS + 2000);
      const failed = srv.logs.filter((l) => l.event === 'tftp.failed');
      expect(failed.length).toBe(1000);
      expect(failed[0]).toMatchObject({ outcome: 'timeout', detail: `no progress for ${NO_PROGRESS_S} s` });

      const dest = path.join(out, 'many-addresses');
      const c = await curlGet(srv.port, dest);
      expect(c.code, c.stderr).toBe(0);
      expect(sha256(dest)).toBe(sha256(file));
    } finally {
      f?.close();
      await srv.stop();
    }
  }, 60_000);

  it('a timeout above tftp.timeout_max is left out of the OACK and the server retransmits on its own timer', async () => {
    const srv = await startServer({ root, timeout: 1, timeout_max: 5 });
    const peer = await new RawPeer().bind();
    try {
      peer.rrq(srv.port, 'file.bin', [['timeout', '255'], ['blksize', '1024']]);
      const first = await peer.recv();
      expect(first?.p).toEqual({ op: 'OACK', options: [['blksize', '1024']] });
      // tftp.timeout (1 s), not 255 s: the OACK comes again within 2.5 s.
      const again = await peer.recv(2500);
      expect(again?.p).toEqual(first!.p);
      peer.send({ op: 'ERROR', code: 0, message: 'done' }, first!.port);

      const p2 = await new RawPeer().bind();
      p2.rrq(srv.port, 'file.bin', [['timeout', '5']]);
      const o2 = await p2.recv();
      expect(o2?.p).toEqual({ op: 'OACK', options: [['timeout', '5']] });
      p2.send({ op: 'ERROR', code: 0, message: 'done' }, o2!.port);
      p2.close();
      expect(await until(() => srv.server.active === 0, 15_000)).toBe(true);
    } finally {
      peer.close();
      await srv.stop();
    }
  }, 30_000);

  it('an upload that never sends DATA ends at the no-progress cap, whatever timeout it asked', async () => {
    const up = tmpdir('lb-tftp-up-');
    const srv = await startServer({ root, upload_dir: up, no_progress_timeout: 2, timeout_max: 255 });
    const peer = await new RawPeer().bind();
    try {
      const t0 = Date.now();
      peer.send({ op: 'WRQ', filename: 'up.bin', mode: 'octet', options: [['timeout', '255']] }, srv.port);
      expect((await peer.recv())?.p).toEqual({ op: 'OACK', options: [['timeout', '255']] });
      expect(await until(() => srv.server.active === 0, 2000 + SLACK_MS)).toBe(true);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1800);
      expect(srv.logs.find((l) => l.event === 'tftp.failed')).toMatchObject({ op: 'WRQ', outcome: 'timeout', detail: 'no progress for 2 s' });
      expect(fs.readdirSync(up)).toEqual([]);
    } finally {
      peer.close();
      await srv.stop();
      fs.rmSync(up, { recursive: true, force: true });
    }
  }, 30_000);
});
