/**
 * 100k+ random and mutated LLC/RPL frames at the responder: it never throws,
 * never hits its internal-error path, keeps its session table bounded, and
 * still serves a real load afterwards.
 */
import { describe, expect, it } from 'vitest';
import { Bench, answer, tempImages, SERVER_MAC } from './harness.js';
import { rplFuzz, rplSeeds } from './fuzz-gen.js';

const KNOWN = '02:52:50:4c:00:02';

describe('RPL responder fuzz', () => {
  it('survives 120k random and mutated frames and still loads byte-exact', () => {
    const { root, data } = tempImages({ 'img.bin': 40_000 });
    const b = new Bench(root, { max_sessions: 64 });
    // the known host plus a catch-all so random source MACs create sessions too
    const img = { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 };
    b.plan = { rpl: (mac) => (mac === KNOWN || mac.endsWith('7') ? answer(mac, img, { ackEvery: 4 }) : undefined) };

    const next = rplFuzz(0x5eed, rplSeeds(KNOWN, SERVER_MAC));
    let thrown = 0;
    const N = 120_000;
    for (let i = 0; i < N; i++) {
      const f = next();
      try {
        b.responder.receive(b.serverPort, f);
      } catch {
        thrown++;
      }
      if (i % 64 === 0) b.clock.advance(1);
    }
    b.clock.advance(60_000); // let every fuzz session time out
    expect(thrown).toBe(0);
    expect(b.counter('lanboot_rpl_dropped_total', { reason: 'internal_error' })).toBe(0);
    expect(b.responder.sessionCount).toBeLessThanOrEqual(64);
    const drops = [...b.tm.counters.values()].filter((c) => c.name === 'lanboot_rpl_dropped_total').reduce((a, c) => a + c.value, 0);
    expect(drops).toBeGreaterThan(N / 2); // most of it was rejected, and counted

    const sim = b.client({ mac: KNOWN });
    sim.start();
    b.run([sim]);
    expect(sim.result.problems).toEqual([]);
    expect(sim.result.ok).toBe(true);
    expect(sim.result.memory.subarray(0x2000, 0x2000 + 40_000).equals(data['img.bin']!)).toBe(true);
    expect(sim.result.execute).toBe(0x2000);
  });
});
