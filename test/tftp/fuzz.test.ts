/**
 * Fuzz: 100k random and mutated packets at the listening port and at a live
 * transfer's port (wrong TIDs). The server must never throw, the live
 * transfer must finish intact, and a real client must still be served.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawPeer, run, sha256, startServer, tmpdir, until, type Started } from './helpers.js';
import { tftpFuzz } from './fuzz-gen.js';

let root: string;
let srv: Started;
const payload = crypto.randomBytes(300_000);

beforeAll(async () => {
  root = tmpdir('lb-tftp-fuzz-');
  fs.writeFileSync(path.join(root, 'a'), payload);
  fs.writeFileSync(path.join(root, 'b'), 'small');
  // info level: 100k debug lines would measure the logger, not the server
  srv = await startServer({ root, timeout: 0.2, retries: 3, max_transfers: 64 }, {}, 'info');
});
afterAll(async () => {
  await srv?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

let seed = 0x2545f491;
function rnd(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}
const packet = tftpFuzz(0x9e3779b9);

describe('fuzz', () => {
  it('survives 100k random and mutated packets and still serves', async () => {
    const errors: unknown[] = [];
    const onErr = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onErr);
    const shooters = await Promise.all(Array.from({ length: 8 }, () => new RawPeer().bind()));

    // A live, slow lock-step transfer that strangers keep poking at.
    const victim = await new RawPeer().bind();
    victim.rrq(srv.port, 'a', [['blksize', '1024']]);
    let victimPort = 0;
    let got: Buffer[] = [];
    let block = 0;
    let victimDone = false;
    const victimStep = async () => {
      // consume what arrived, ack in order
      for (;;) {
        const m = await victim.recv(0);
        if (!m) return;
        const p = m.p;
        if (!p) continue;
        if (p.op === 'OACK') {
          victimPort = m.port;
          victim.send({ op: 'ACK', block: 0 }, m.port);
        } else if (p.op === 'DATA' && m.port === victimPort) {
          if (p.block === ((block + 1) & 0xffff)) {
            got.push(Buffer.from(p.data));
            block++;
            if (p.data.length < 1024) victimDone = true;
          }
          victim.send({ op: 'ACK', block: p.block }, m.port);
        }
      }
    };

    const seenNow = () => {
      let n = 0;
      for (const c of srv.telemetry.counters.values())
        if (c.name === 'lanboot_tftp_dropped_total' || c.name === 'lanboot_tftp_requests_total') n += c.value;
      return n;
    };
    const TOTAL = 100_000;
    let sent = 0;
    let sentMain = 0;
    while (sent < TOTAL) {
      for (let i = 0; i < 100 && sent < TOTAL; i++, sent++) {
        const s = shooters[sent % shooters.length]!;
        const toTransfer = victimPort && rnd(5) === 0;
        if (!toTransfer) sentMain++;
        s.send(packet(), toTransfer ? victimPort : srv.port);
        s.drain();
      }
      await victimStep();
      // pace the flood to what the server consumes, so it is really processed (bounded wait)
      for (let w = 0; w < 20 && seenNow() < sentMain - 200; w++) await new Promise((r) => setTimeout(r, 1));
    }
    // let the victim finish
    for (let i = 0; i < 2000 && !victimDone; i++) {
      await victimStep();
      await new Promise((r) => setTimeout(r, 2));
    }
    process.off('uncaughtException', onErr);
    expect(errors).toEqual([]);
    expect(victimDone, JSON.stringify(srv.logs.filter((l) => l.file === 'a' && l.blksize === 1024))).toBe(true);
    expect(sha256(Buffer.concat(got))).toBe(sha256(payload));
    got = [];

    // the server really looked at the flood
    expect(seenNow(), JSON.stringify([...srv.telemetry.counters.values()])).toBeGreaterThan(sentMain * 0.9);
    expect([...srv.telemetry.counters.values()].some((c) => c.labels.reason === 'unknown-tid')).toBe(true);

    // fuzz transfers time out and are freed; a real client is still served
    expect(await until(() => srv.server.active === 0, 10_000)).toBe(true);
    const dest = path.join(root, '..', `lb-fuzz-out-${process.pid}`);
    const r = await run('curl', ['-s', '-S', '--tftp-blksize', '1468', '-o', dest, `tftp://127.0.0.1:${srv.port}/a`]);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(dest)).toBe(sha256(payload));
    fs.rmSync(dest, { force: true });
    shooters.forEach((s) => s.close());
    victim.close();
  }, 120_000);
});
