/** Seeded random and mutated DHCP packets for the fuzz tests. */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

const dir = fileURLToPath(new URL('../fixtures/dhcp/', import.meta.url));
export const seeds: Buffer[] = readdirSync(dir)
  .filter((f) => f.endsWith('.hex'))
  .map((f) => Buffer.from(readFileSync(dir + f, 'utf8').trim(), 'hex'));

const INTERESTING = [0, 1, 3, 12, 43, 50, 52, 53, 54, 55, 57, 60, 61, 77, 82, 93, 94, 97, 119, 121, 175, 203, 255];

export function generator(seed: number): () => Buffer {
  const r = prng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(a: T[]) => a[int(a.length)]!;
  const randomBytes = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  const option = () => {
    const code = r() < 0.7 ? pick(INTERESTING) : int(256);
    const len = r() < 0.8 ? int(20) : int(256);
    const body = code === 53 && r() < 0.7 ? Buffer.from([1 + int(8)]) : randomBytes(len);
    return Buffer.concat([Buffer.from([code, r() < 0.9 ? body.length : int(256)]), body]);
  };
  return () => {
    const mode = r();
    if (mode < 0.15) return randomBytes(int(700));
    const base = Buffer.from(pick(seeds));
    if (mode < 0.3) {
      // Valid header, random option soup.
      const opts = Buffer.concat(Array.from({ length: int(12) }, option));
      return Buffer.concat([base.subarray(0, 240), opts, r() < 0.5 ? Buffer.from([255]) : Buffer.alloc(0)]);
    }
    if (mode < 0.45) return base.subarray(0, int(base.length + 1)); // truncation
    // Mutations of a real packet: flips, byte sets, insertions.
    const out = Buffer.from(base);
    const n = 1 + int(8);
    for (let i = 0; i < n; i++) {
      const at = int(out.length);
      const k = r();
      if (k < 0.4) out[at] ^= 1 << int(8);
      else if (k < 0.8) out[at] = pick([0, 1, 2, 0x7f, 0x80, 0xff, 52, 53, 255, int(256)]);
      else out[240 + int(Math.max(1, out.length - 240))] = pick(INTERESTING);
    }
    if (r() < 0.2) return Buffer.concat([out.subarray(0, 240 + int(out.length - 240)), option(), out.subarray(240)]);
    return out;
  };
}
