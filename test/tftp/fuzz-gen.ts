/** Seeded random and mutated TFTP packets for the fuzz tests (in-process and over the wire). */
import crypto from 'node:crypto';
import { encode, type TftpPacket } from '../../src/codec/tftp.js';

const NAMES = ['a', 'b', 'missing', '../a', '\\a', '/a', '', 'a'.repeat(2000)];
const OPT_NAMES = ['blksize', 'BLKSIZE', 'tsize', 'timeout', 'windowsize', 'multicast', 'x'];
const OPT_VALUES = ['0', '1', '7', '8', '512', '65464', '65465', '99999999999999999999999', '-1', '', 'abc', '1e3', '65536', '4294967296'];

/**
 * A packet source: random bytes, requests (valid and mutated) for `names`
 * with odd options and modes, and stray DATA/ACK/ERROR/OACK. The choices
 * follow `seed`; random payload bytes do not.
 */
export function tftpFuzz(seed: number, names: readonly string[] = NAMES): () => Buffer {
  let s = seed | 0 || 1;
  const rnd = (n: number): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
  const pick = <T,>(a: readonly T[]): T => a[rnd(a.length)]!;

  const validish = (): Buffer => {
    const options: Array<[string, string]> = [];
    const n = rnd(6);
    for (let i = 0; i < n; i++) options.push([pick(OPT_NAMES), pick(OPT_VALUES)]);
    const p: TftpPacket = {
      op: rnd(4) === 0 ? 'WRQ' : 'RRQ',
      filename: pick(names) || 'a',
      mode: pick(['octet', 'netascii', 'mail', 'OCTET', 'bogus']),
      options,
    };
    return encode(p);
  };

  const mutate = (b: Buffer): Buffer => {
    const out = Buffer.from(b);
    switch (rnd(4)) {
      case 0:
        return out.subarray(0, rnd(out.length + 1));
      case 1:
        for (let i = 0, k = 1 + rnd(4); i < k; i++) out[rnd(out.length)] = rnd(256);
        return out;
      case 2:
        out[rnd(out.length)] = 0;
        return out;
      default:
        return Buffer.concat([out, crypto.randomBytes(rnd(40))]);
    }
  };

  return (): Buffer => {
    switch (rnd(6)) {
      case 0:
        return crypto.randomBytes(rnd(600));
      case 1:
        return mutate(validish());
      case 2:
        return validish();
      case 3: {
        const b = Buffer.alloc(4 + rnd(20));
        b.writeUInt16BE(rnd(10), 0); // opcodes 0..9, many invalid
        b.writeUInt16BE(rnd(65536), 2);
        return b;
      }
      case 4:
        return encode(
          pick<TftpPacket>([
            { op: 'ACK', block: rnd(65536) },
            { op: 'DATA', block: rnd(65536), data: crypto.randomBytes(rnd(600)) },
            { op: 'ERROR', code: rnd(12), message: 'x' },
            { op: 'OACK', options: [['blksize', pick(OPT_VALUES)]] },
          ]),
        );
      default: {
        const b = Buffer.alloc(2 + rnd(8));
        b.writeUInt16BE(1 + rnd(6), 0);
        return b;
      }
    }
  };
}
