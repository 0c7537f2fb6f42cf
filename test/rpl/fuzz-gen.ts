/** Seeded random and mutated LLC/RPL frames for the fuzz tests (in-process and over the wire). */
import { fileURLToPath } from 'node:url';
import { findFrame, sfrFrame, alertFrame } from './harness.js';
import { readPcap } from './pcap.js';

const VECTORS = fileURLToPath(new URL('../fixtures/rpl/vectors/all.pcap', import.meta.url));

/** xorshift32: deterministic so a failure can be replayed. */
export function rng(seed: number) {
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

/**
 * The tshark-checked vectors plus FIND / SEND.FILE.REQUEST / PROGRAM.ALERT
 * from `client`, with the vectors' requests addressed to `server`.
 */
export function rplSeeds(client: string, server: string): Buffer[] {
  const seeds: Buffer[] = [...readPcap(VECTORS), findFrame(client), sfrFrame(client, server, 0), sfrFrame(client, server, 3), alertFrame(client, server)];
  const own = Buffer.from(server.split(':').map((x) => parseInt(x, 16)));
  for (const s of seeds) if (s[0] === 0x02 && s[5] === 0x01) own.copy(s, 0);
  return seeds;
}

/** Random frames (1 in 10) and seeds mutated in one way each: truncation, length, SAPs, vectors, sequence, bit rot, source MAC, junk. */
export function rplFuzz(seed: number, seeds: Buffer[]): () => Buffer {
  const r = rng(seed);
  return () => {
    let f: Buffer;
    const kind = r.int(10);
    if (kind === 0) {
      f = Buffer.alloc(r.int(1600));
      for (let j = 0; j < f.length; j++) f[j] = r.byte();
      return f;
    }
    f = Buffer.from(seeds[r.int(seeds.length)]!);
    const m = r.int(8);
    if (m === 0) f = f.subarray(0, r.int(f.length + 1)); // truncated
    else if (m === 1) f.writeUInt16BE(r.int(0x700), 12); // bad 802.3 length / EtherType
    else if (m === 2) f[14 + r.int(3)] = r.byte(); // wrong SAPs / control
    else if (m === 3 && f.length > 21) f.writeUInt16BE(r.int(0x10000), 17 + 4 + 4 * r.int(4) > f.length - 2 ? 17 : 21); // vector length
    else if (m === 4 && f.length > 28) f.writeUInt32BE(r.int(2) ? r.int(200) : r.int(0xffffffff), 25); // sequence
    else if (m === 5) for (let k = r.int(8) + 1; k > 0; k--) f[r.int(f.length)] = r.byte(); // bit rot
    else if (m === 6) f[11] = r.byte(); // another source MAC
    else f = Buffer.concat([f, Buffer.alloc(r.int(64), r.byte())]); // trailing junk
    return f;
  };
}
