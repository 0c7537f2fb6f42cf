/**
 * Option values that repeat from reply to reply (message type, server id,
 * lease times, a subnet's network options), encoded once instead of per reply.
 * Sharing is safe: the encoder copies option bytes into each reply and no
 * handler writes into a value. Config objects are never mutated (a reload
 * makes new ones), so values derived from one are cached on it.
 */
import { ip, str, u32 } from '../../codec/dhcp-options.js';

const U8: readonly Buffer[] = Array.from({ length: 256 }, (_, i) => Buffer.from([i]));

/** One byte. */
export function u8Bytes(n: number): Buffer {
  return U8[n & 255]!;
}

/** A small memo; cleared when full, so a stream of distinct keys cannot grow it. */
class Memo<K> {
  private readonly map = new Map<K, Buffer>();
  constructor(
    private readonly make: (k: K) => Buffer,
    private readonly max = 64,
  ) {}

  get(k: K): Buffer {
    let b = this.map.get(k);
    if (!b) {
      if (this.map.size >= this.max) this.map.clear();
      this.map.set(k, (b = this.make(k)));
    }
    return b;
  }
}

const ipMemo = new Memo<string>(ip);
const u32Memo = new Memo<number>(u32);
const textMemo = new Memo<string>(str);

/** An IPv4 address (server id, next server). */
export const ipBytes = (addr: string): Buffer => ipMemo.get(addr);
/** A u32 (lease, T1, T2). */
export const u32Bytes = (n: number): Buffer => u32Memo.get(n);
/** Short text that repeats (vendor class, next-server name); never per-client values. */
export const textBytes = (s: string): Buffer => textMemo.get(s);

/** Derived once per config object. */
export function perConfig<C extends object, V>(cache: WeakMap<C, V>, c: C, make: (c: C) => V): V {
  let v = cache.get(c);
  if (v === undefined) cache.set(c, (v = make(c)));
  return v;
}
