/**
 * 100k+ random and mutated LLC/RPL frames at the responder: it never throws,
 * never hits its internal-error path, keeps its session table bounded, and
 * still serves a real load afterwards.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { Bench, answer, tempImages, SERVER_MAC, findFrame, sfrFrame, alertFrame } from './harness.js';
import { readPcap } from './pcap.js';

const dir = fileURLToPath(new URL('../fixtures/rpl/vectors/', import.meta.url));
const KNOWN = '02:52:50:4c:00:02';

/** xorshift32: deterministic so a failure can be replayed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return { int: (n: number) => next() % n, byte: () => next() & 0xff };
}

describe('RPL responder fuzz', () => {
  it('survives 120k random and mutated frames and still loads byte-exact', () => {
    const { root, data } = tempImages({ 'img.bin': 40_000 });
    const b = new Bench(root, { max_sessions: 64 });
    // the known host plus a catch-all so random source MACs create sessions too
    const img = { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 };
    b.plan = { rpl: (mac) => (mac === KNOWN || mac.endsWith('7') ? answer(mac, img, { ackEvery: 4 }) : undefined) };

    const seeds: Buffer[] = [
      ...readPcap(dir + 'all.pcap'),
      findFrame(KNOWN),
      sfrFrame(KNOWN, SERVER_MAC, 0),
      sfrFrame(KNOWN, SERVER_MAC, 3),
      alertFrame(KNOWN, SERVER_MAC),
    ];
    // address the vectors' requests to our server
    for (const s of seeds) if (s[0] === 0x02 && s[5] === 0x01) Buffer.from(SERVER_MAC.split(':').map((x) => parseInt(x, 16))).copy(s, 0);
    const r = rng(0x5eed);
    let thrown = 0;
    const N = 120_000;
    for (let i = 0; i < N; i++) {
      let f: Buffer;
      const kind = r.int(10);
      if (kind === 0) {
        f = Buffer.alloc(r.int(1600));
        for (let j = 0; j < f.length; j++) f[j] = r.byte();
      } else {
        f = Buffer.from(seeds[r.int(seeds.length)]!);
        const m = r.int(8);
        if (m === 0) f = f.subarray(0, r.int(f.length + 1)); // truncated
        else if (m === 1) f.writeUInt16BE(r.int(0x700), 12); // bad 802.3 length / EtherType
        else if (m === 2) f[14 + r.int(3)] = r.byte(); // wrong SAPs / control
        else if (m === 3 && f.length > 21) f.writeUInt16BE(r.int(0x10000), 17 + 4 + 4 * r.int(4) > f.length - 2 ? 17 : 21); // vector length
        else if (m === 4 && f.length > 28) f.writeUInt32BE(r.int(2) ? r.int(200) : r.int(0xffffffff), 25); // sequence
        else if (m === 5) for (let k = r.int(8) + 1; k > 0; k--) f[r.int(f.length)] = r.byte(); // bit rot
        else if (m === 6) f[11] = r.byte(); // another source MAC (sessions for *7)
        else f = Buffer.concat([f, Buffer.alloc(r.int(64), r.byte())]); // trailing junk
      }
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
