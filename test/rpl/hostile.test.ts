/**
 * The responder against spoofed frames (issue 9, item 8). RPL has no
 * authentication: anyone on the segment can send FIND and SEND.FILE.REQUEST
 * with any source MAC, and a prefix host entry (00:60:8c:00:00:00/24) makes
 * 2^24 MACs "known". These tests bound what such frames can make us send.
 */
import { describe, expect, it, vi } from 'vitest';
import { Bench, answer, tempImages, findFrame, sfrFrame, alertFrame, SERVER_MAC } from './harness.js';
import type { RplAnswer } from '../../src/plan/types.js';

const A = '02:52:50:4c:00:02';
const PREFIX = '00:60:8c:';
const GHOST = '00:60:8c:12:34:56'; // inside the prefix, owned by no machine
const ATTACKER = '02:00:00:00:00:99';

const img = (path = 'img.bin', load = 0x2000) => ({ files: [{ path, offset: 0, load }], execute: load });

/** A plan that, like a prefix host entry, answers every MAC in 00:60:8c:xx:xx:xx (plus exact `extra` entries). */
function prefixPlan(b: Bench, o: Partial<RplAnswer> = {}, extra: Record<string, RplAnswer> = {}): void {
  b.plan = { rpl: (mac) => extra[mac] ?? (mac.startsWith(PREFIX) ? answer(mac, img(), o) : undefined) };
}

/** Data frames (FILE.DATA.RESPONSE) the server sent to `mac`. */
function dataTo(b: Bench, mac: string): Buffer[] {
  const d = Buffer.from(mac.split(':').map((x) => parseInt(x, 16)));
  return b.sent().filter((f) => f.readUInt16BE(19) === 0x20 && f.subarray(0, 6).equals(d));
}

describe('RPL responder against spoofed frames', () => {
  it('a spoofed FIND + SEND.FILE.REQUEST and go-backs every 200 ms buy at most 5 images per load and 4 loads a minute', () => {
    const { root } = tempImages({ 'img.bin': 100_000 });
    const b = new Bench(root);
    prefixPlan(b);
    const blocks = Math.ceil(100_000 / 1440); // 70
    const atk = b.wire.port(ATTACKER);
    // The attacker keeps it up for a minute: FIND every second, SEND.FILE.REQUEST(0) every 200 ms.
    let sentBytes = 0;
    const tx = (f: Buffer) => {
      sentBytes += f.length;
      atk.send(f);
    };
    for (let t = 0; t < 60_000; t += 200) {
      if (t % 1000 === 0) tx(findFrame(GHOST));
      b.clock.advance(1);
      tx(sfrFrame(GHOST, SERVER_MAC, 0));
      b.clock.advance(199);
    }
    const frames = dataTo(b, GHOST);
    const bytes = frames.reduce((a, f) => a + f.length, 0);
    // Before: every request re-sent the whole image (~300 images, x15,000 the attacker's bytes).
    expect(frames.length).toBeLessThanOrEqual(4 * 5 * blocks);
    expect(b.events.filter((e) => e.event === 'rpl.start' && e.mac === GHOST).length).toBeLessThanOrEqual(4);
    expect(b.counter('lanboot_rpl_refused_total', { reason: 'mac_rate' })).toBeGreaterThan(0);
    expect(bytes / sentBytes).toBeLessThan(2000);
  });

  it('go-backs that claim progress stop at 16 images per load; a request behind the acknowledged block is dropped', () => {
    const { root } = tempImages({ 'img.bin': 100_000 });
    const b = new Bench(root);
    prefixPlan(b);
    const blocks = Math.ceil(100_000 / 1440);
    const atk = b.wire.port(ATTACKER);
    atk.send(findFrame(GHOST));
    b.clock.advance(1);
    for (let k = 0; k < blocks; k++) {
      atk.send(sfrFrame(GHOST, SERVER_MAC, k)); // each asks for the rest of the image again
      b.clock.advance(200);
      if (k === 5) {
        atk.send(sfrFrame(GHOST, SERVER_MAC, 2)); // behind what it acknowledged: a ROM never does that
        b.clock.advance(200);
      }
    }
    expect(b.counter('lanboot_rpl_dropped_total', { reason: 'sequence_behind' })).toBe(1);
    expect(dataTo(b, GHOST).length).toBeLessThanOrEqual(16 * blocks + 16);
    expect(b.events.find((e) => e.event === 'rpl.abort')).toMatchObject({ mac: GHOST, reason: 'resend_budget' });
  });

  it('caps loads at once at max_loads; the others are answered when a load ends (the ROM repeats FIND)', () => {
    const { root, data } = tempImages({ 'img.bin': 60_000 });
    const b = new Bench(root, { max_loads: 3 });
    prefixPlan(b, { pacingUs: 1000 });
    const sims = Array.from({ length: 8 }, (_, i) => b.client({ mac: `${PREFIX}00:00:${(i + 1).toString(16).padStart(2, '0')}`, findIntervalMs: 300 }));
    for (const s of sims) s.start();
    let most = 0;
    for (let t = 0; t < 60_000 && !sims.every((s) => s.result.ok || s.result.error); t += 5) {
      b.clock.advance(5);
      most = Math.max(most, b.responder.loadViews().filter((v) => v.state === 'loading' || v.state === 'await-ack' || v.state === 'sent').length);
    }
    expect(most).toBe(3);
    for (const s of sims) {
      expect(s.result.error).toBeUndefined();
      expect(s.result.memory.subarray(0x2000, 0x2000 + 60_000).equals(data['img.bin']!)).toBe(true);
    }
    expect(b.counter('lanboot_rpl_refused_total', { reason: 'busy' })).toBeGreaterThan(0);
  });

  it('stops a load whose ACK-REQUEST window gets no request, after re-sending it once', () => {
    const { root } = tempImages({ 'img.bin': 50_000 });
    const b = new Bench(root, { session_timeout: 30 });
    prefixPlan(b, { ackEvery: 4 });
    const atk = b.wire.port(ATTACKER);
    atk.send(findFrame(GHOST));
    b.clock.advance(1);
    atk.send(sfrFrame(GHOST, SERVER_MAC, 0));
    b.clock.advance(6000);
    expect(dataTo(b, GHOST).map((f) => f.readUInt32BE(25))).toEqual([0, 1, 2, 3, 3]);
    // Before: the load held its slot until session_timeout (30 s).
    expect(b.responder.sessionCount).toBe(0);
    expect(b.events.find((e) => e.event === 'rpl.abort')).toMatchObject({ mac: GHOST, reason: 'no_request' });
  });

  it('a real ROM with ack_every still loads when it is slow to acknowledge', () => {
    const { root, data } = tempImages({ 'img.bin': 30_000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, img(), { ackEvery: 4 }));
    // Block 2 is lost; the ROM discards 3 (the ACK-REQUEST block) and its re-send as out of order,
    // and asks again only after 2 s of silence: the load must still be there.
    const sim = b.client({ mac: A, drop: [2], nakOnGap: false, silenceMs: 2000 });
    sim.start();
    b.run([sim]);
    expect(sim.result.error).toBeUndefined();
    expect(sim.result.memory.subarray(0x2000, 0x2000 + 30_000).equals(data['img.bin']!)).toBe(true);
  });

  it('a spoofed FIND with a loading client’s MAC does not end its load', () => {
    const { root, data } = tempImages({ 'img.bin': 80_000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, img(), { pacingUs: 1000 }));
    const sim = b.client({ mac: A });
    sim.start();
    b.clock.advance(20); // ~20 blocks out
    b.wire.port(ATTACKER).send(findFrame(A));
    b.run([sim]);
    expect(sim.result.error).toBeUndefined();
    expect(sim.result.memory.subarray(0x2000, 0x2000 + 80_000).equals(data['img.bin']!)).toBe(true);
    expect(b.events.filter((e) => e.event === 'rpl.abort')).toEqual([]);
  });

  it('a flood of FINDs from a prefix never evicts a load in progress', () => {
    const { root, data } = tempImages({ 'img.bin': 40_000 });
    const b = new Bench(root, { max_sessions: 64 });
    prefixPlan(b, {}, { [A]: answer(A, img(), { ackEvery: 8 }) });
    const sim = b.client({ mac: A });
    sim.start();
    while (b.responder.loadViews()[0]?.state !== 'loading') b.clock.advance(0.1);
    const atk = b.wire.port(ATTACKER);
    let n = 0;
    for (let t = 0; t < 30_000 && !(sim.result.ok || sim.result.error); t += 5) {
      // 100 FINDs from new MACs every 5 ms: the session table is always full
      for (let i = 0; i < 100; i++, n++) atk.send(findFrame(`${PREFIX}${((n >> 16) & 0xff).toString(16).padStart(2, '0')}:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`));
      b.clock.advance(5);
    }
    expect(sim.result.error).toBeUndefined();
    expect(sim.result.memory.subarray(0x2000, 0x2000 + 40_000).equals(data['img.bin']!)).toBe(true);
    expect(b.responder.sessionCount).toBeLessThanOrEqual(64);
  });

  it('a flood of PROGRAM.ALERT frames writes ten warn lines and one that counts the rest; the counter counts all', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const { root } = tempImages({ 'img.bin': 1000 });
      const b = new Bench(root);
      const atk = b.wire.port(ATTACKER);
      for (let i = 0; i < 1000; i++) {
        atk.send(alertFrame(GHOST, SERVER_MAC));
        b.clock.advance(1);
      }
      expect(b.logs.lines.filter((l) => l.event === 'rpl.alert')).toHaveLength(10);
      vi.advanceTimersByTime(10_000);
      expect(b.logs.lines.filter((l) => l.event === 'rpl.alert').at(-1)).toMatchObject({ level: 40, suppressed: 990 });
      expect(b.counter('lanboot_rpl_alerts_total')).toBe(1000);
    } finally {
      vi.useRealTimers();
    }
  });
});
