/**
 * Lease state and address allocation, persisted in a Journal.
 *
 * Journal records are upserts keyed by address, so replay is a fold and a
 * record seen twice (e.g. in a compaction snapshot and re-appended) is harmless:
 *   {t:'L', ip, key, mac, exp, host?}   bound until exp (ms since epoch)
 *   {t:'F', ip, key, mac, at}           released/expired at `at`; key kept for affinity
 *   {t:'D', ip, until}                  declined (address conflict), unusable until `until`
 *
 * Offers are NOT journaled: an OFFER promises nothing (RFC 2131 §4.3.1 lets the
 * server give the address away if no REQUEST comes), so an offer lost in a crash
 * costs nothing: the REQUEST that follows is validated against the journaled
 * state and the address is committed (fsynced) before the ACK leaves.
 */
import type { SubnetConfig } from '../config/types.js';
import { numberToIpv4 as intToIp, ipv4ToNumber as ipToInt } from '../net/address.js';
import { Journal } from './journal.js';

export type LeaseRecord =
  | { t: 'L'; ip: string; key: string; mac: string; exp: number; host?: string }
  | { t: 'F'; ip: string; key: string; mac: string; at: number }
  | { t: 'D'; ip: string; until: number };

export type LeaseState = 'offered' | 'bound' | 'free' | 'declined';

export interface Lease {
  ip: string;
  ipInt: number;
  state: LeaseState;
  /** Client identity: 'id:<hex of option 61>' or 'hw:<htype>:<chaddr hex>'. */
  key: string;
  mac: string;
  /** ms since epoch: end of lease / offer hold / quarantine. */
  expires: number;
  hostname?: string;
  /** Whether a bound lease was ever journaled for this address (ARP-probe policy). */
  used: boolean;
}

export interface StaticReservation {
  ip: string;
  mac: string;
}

export interface LeaseStoreOptions {
  file: string;
  subnets: SubnetConfig[];
  /** Static hosts' addresses; never given to any other client. */
  reserved?: StaticReservation[];
  commitDelayMs?: number;
  /** How long an offered address is held for the client (default 30 s). */
  offerHoldMs?: number;
  /** DECLINE quarantine (default 10 min). */
  declineHoldMs?: number;
  /** Expired leases older than this are dropped at compaction (default 1 day). */
  keepExpiredMs?: number;
  /** Compact when the journal holds this many records more than the live state (default 10000). */
  compactSlack?: number;
  noSync?: boolean;
  now?: () => number;
}

export interface Pool {
  subnet: SubnetConfig;
  network: number;
  mask: number;
  broadcast: number;
  start: number;
  end: number;
  cursor: number;
}

export interface Allocation {
  ip: string;
  /** Never leased before: the service may ARP-probe it first. */
  fresh: boolean;
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function poolOf(s: SubnetConfig): Pool {
  const mask = maskOf(s.prefix);
  const network = (ipToInt(s.network) & mask) >>> 0;
  const broadcast = (network | (~mask >>> 0)) >>> 0;
  const start = s.range ? ipToInt(s.range.start) : 1;
  const end = s.range ? ipToInt(s.range.end) : 0;
  return { subnet: s, network, mask, broadcast, start, end, cursor: start };
}

export class LeaseStore {
  readonly journal: Journal<LeaseRecord>;
  /** One per configured subnet; replaced (not mutated) by setSubnets on a reload. */
  pools: Pool[];
  private readonly byIp = new Map<number, Lease>();
  private readonly byKey = new Map<string, Lease>();
  private readonly reservedIp = new Map<number, string>();
  private readonly now: () => number;
  private readonly offerHoldMs: number;
  private readonly declineHoldMs: number;
  private readonly keepExpiredMs: number;
  private readonly compactSlack: number;
  private compacting: Promise<void> | null = null;
  truncatedBytesOnLoad = 0;

  constructor(readonly opts: LeaseStoreOptions) {
    this.journal = new Journal<LeaseRecord>(opts.file, { commitDelayMs: opts.commitDelayMs, noSync: opts.noSync });
    this.now = opts.now ?? Date.now;
    this.offerHoldMs = opts.offerHoldMs ?? 30_000;
    this.declineHoldMs = opts.declineHoldMs ?? 600_000;
    this.keepExpiredMs = opts.keepExpiredMs ?? 86_400_000;
    this.compactSlack = opts.compactSlack ?? 10_000;
    for (const r of opts.reserved ?? []) this.reservedIp.set(ipToInt(r.ip), r.mac.toLowerCase());
    this.pools = opts.subnets.map((s) => poolOf(s));
  }

  /**
   * New subnets/ranges (config reload). Leases live by address, not by pool,
   * so nothing is lost: a bound address that falls outside every new range
   * stays bound until it expires, is not renewed (the service NAKs it, as
   * Kea and dnsmasq do) and is never offered again. An unchanged range keeps
   * its allocation cursor.
   */
  setSubnets(subnets: SubnetConfig[]): void {
    this.pools = subnets.map((s) => {
      const p = poolOf(s);
      const old = this.pools.find((o) => o.network === p.network && o.mask === p.mask && o.start === p.start && o.end === p.end);
      if (old) p.cursor = old.cursor;
      return p;
    });
  }

  /** Replace the static reservations (config reload). */
  setReserved(reserved: StaticReservation[]): void {
    this.reservedIp.clear();
    for (const r of reserved) this.reservedIp.set(ipToInt(r.ip), r.mac.toLowerCase());
  }

  async open(): Promise<{ records: number; truncatedBytes: number }> {
    const r = await this.journal.open();
    for (const rec of r.records) this.apply(rec);
    this.truncatedBytesOnLoad = r.truncatedBytes;
    return { records: r.records.length, truncatedBytes: r.truncatedBytes };
  }

  async close(): Promise<void> {
    if (this.compacting) await this.compacting;
    await this.journal.close();
  }

  // ----------------------------------------------------------- replay

  private apply(rec: LeaseRecord): void {
    let n: number;
    try {
      n = ipToInt(rec.ip);
    } catch {
      return;
    }
    const prev = this.byIp.get(n);
    if (rec.t === 'L') {
      this.setLease({ ip: rec.ip, ipInt: n, state: 'bound', key: rec.key, mac: rec.mac, expires: rec.exp, hostname: rec.host, used: true });
    } else if (rec.t === 'F') {
      this.setLease({ ip: rec.ip, ipInt: n, state: 'free', key: rec.key, mac: rec.mac, expires: rec.at, used: true });
    } else if (rec.t === 'D') {
      if (prev && this.byKey.get(prev.key) === prev) this.byKey.delete(prev.key);
      this.byIp.set(n, { ip: rec.ip, ipInt: n, state: 'declined', key: '', mac: '', expires: rec.until, used: true });
    }
  }

  /** Put a lease in both indexes; a client holds one address at a time. */
  private setLease(l: Lease): void {
    const old = this.byIp.get(l.ipInt);
    if (old && old.key !== l.key && this.byKey.get(old.key) === old) this.byKey.delete(old.key);
    const mine = this.byKey.get(l.key);
    if (mine && mine.ipInt !== l.ipInt && this.byIp.get(mine.ipInt) === mine) {
      // The client moved: its old address becomes free (keep nothing pointing at it).
      if (mine.state === 'offered') this.byIp.delete(mine.ipInt);
      else this.byIp.set(mine.ipInt, { ...mine, state: 'free', expires: Math.min(mine.expires, this.now()) });
    }
    this.byIp.set(l.ipInt, l);
    if (l.key) this.byKey.set(l.key, l);
  }

  // ----------------------------------------------------------- queries

  poolFor(subnet: SubnetConfig): Pool | undefined {
    return this.pools.find((p) => p.subnet === subnet) ?? this.pools.find((p) => p.subnet.subnet === subnet.subnet);
  }

  inSubnet(pool: Pool, ip: string | number): boolean {
    const n = typeof ip === 'number' ? ip : ipToInt(ip);
    return ((n & pool.mask) >>> 0) === pool.network && n !== pool.network && n !== pool.broadcast;
  }

  inRange(pool: Pool, n: number): boolean {
    return pool.end >= pool.start && n >= pool.start && n <= pool.end;
  }

  /** The lease (bound, not expired) or live offer for `ip`. */
  leaseAt(ip: string): Lease | undefined {
    const l = this.byIp.get(ipToInt(ip));
    return l && this.isLive(l) ? l : undefined;
  }

  /** The client's current bound lease or live offer. */
  leaseOf(key: string): Lease | undefined {
    const l = this.byKey.get(key);
    return l && this.isLive(l) ? l : undefined;
  }

  /** Every entry, for listings and tests. */
  all(): Lease[] {
    return [...this.byIp.values()];
  }

  private isLive(l: Lease): boolean {
    return (l.state === 'bound' || l.state === 'offered') && l.expires > this.now();
  }

  /**
   * May `key` (MAC `mac`) have `ip` right now? Not the network/broadcast
   * address, in the subnet, not reserved for another MAC, not quarantined, not
   * bound or offered to another client.
   */
  available(pool: Pool, ip: string, key: string, mac: string): boolean {
    let n: number;
    try {
      n = ipToInt(ip);
    } catch {
      return false;
    }
    if (!this.inSubnet(pool, n)) return false;
    const r = this.reservedIp.get(n);
    if (r !== undefined && r !== mac.toLowerCase()) return false;
    const l = this.byIp.get(n);
    if (!l) return true;
    const now = this.now();
    if (l.state === 'declined') return l.expires <= now;
    // A reservation belongs to the MAC: one machine's firmware stages (OVMF PXE, then iPXE) use different client-ids.
    if (l.key === key || (r !== undefined && l.mac === mac.toLowerCase())) return true;
    if ((l.state === 'bound' || l.state === 'offered') && l.expires > now) return false;
    return true;
  }

  /**
   * Choose an address for a client: its fixed address (static host), else its
   * live lease/offer in this pool, else the address it asked for (option 50)
   * if free, else its previous (expired) address, else a never-used pool
   * address, else the least recently used free one. null = pool exhausted.
   */
  allocate(pool: Pool, key: string, mac: string, hint: { fixed?: string; requested?: string } = {}): Allocation | null {
    const now = this.now();
    if (hint.fixed) {
      if (!this.available(pool, hint.fixed, key, mac)) return null;
      return { ip: hint.fixed, fresh: !this.byIp.get(ipToInt(hint.fixed))?.used };
    }
    const mine = this.byKey.get(key);
    if (mine && mine.state !== 'declined' && this.inRange(pool, mine.ipInt) && this.available(pool, mine.ip, key, mac)) {
      return { ip: mine.ip, fresh: !mine.used };
    }
    if (hint.requested) {
      let n = -1;
      try {
        n = ipToInt(hint.requested);
      } catch {
        /* ignore a bad hint */
      }
      if (n >= 0 && this.inRange(pool, n) && this.available(pool, hint.requested, key, mac)) {
        return { ip: hint.requested, fresh: !this.byIp.get(n)?.used };
      }
    }
    if (pool.end < pool.start) return null;
    // Never-used addresses first, scanning from a cursor (amortized O(1) per allocation).
    const size = pool.end - pool.start + 1;
    for (let i = 0; i < size; i++) {
      const n = pool.cursor;
      pool.cursor = n >= pool.end ? pool.start : n + 1;
      if (n === pool.network || n === pool.broadcast) continue;
      if (!this.byIp.has(n) && !this.reservedIp.has(n)) return { ip: intToIp(n), fresh: true };
    }
    // Then the free address unused the longest.
    let best: Lease | undefined;
    for (const l of this.byIp.values()) {
      if (!this.inRange(pool, l.ipInt) || this.reservedIp.has(l.ipInt)) continue;
      if (l.state === 'declined' ? l.expires > now : this.isLive(l)) continue;
      if (!best || l.expires < best.expires) best = l;
    }
    return best ? { ip: best.ip, fresh: false } : null;
  }

  /** Hold `ip` for `key` while the client decides (memory only). */
  offer(key: string, mac: string, ip: string): void {
    const n = ipToInt(ip);
    const cur = this.byIp.get(n);
    if (cur && cur.key === key && cur.state === 'bound' && cur.expires > this.now()) return; // already bound: keep
    this.setLease({ ip, ipInt: n, state: 'offered', key, mac, expires: this.now() + this.offerHoldMs, used: cur?.used ?? false });
  }

  /** The client chose another server: forget our offer. */
  dropOffer(key: string): void {
    const l = this.byKey.get(key);
    if (l && l.state === 'offered') {
      this.byKey.delete(key);
      if (this.byIp.get(l.ipInt) === l) this.byIp.delete(l.ipInt);
    }
  }

  /** Mark an address as in use by someone we do not know (ARP probe answered). */
  conflict(ip: string): Promise<void> {
    return this.quarantine(ipToInt(ip), ip);
  }

  // ----------------------------------------------------------- changes (journaled)

  /**
   * Bind `ip` to the client for `seconds`. Memory is updated at once (so
   * concurrent requests see it); the promise resolves when the record is on
   * disk — send the ACK only then.
   */
  bind(key: string, mac: string, ip: string, seconds: number, hostname?: string): Promise<Lease> {
    const n = ipToInt(ip);
    const exp = this.now() + seconds * 1000;
    const records: LeaseRecord[] = [];
    const mine = this.byKey.get(key);
    if (mine && mine.ipInt !== n && (mine.state === 'bound' || mine.state === 'free') && this.byIp.get(mine.ipInt) === mine) {
      records.push({ t: 'F', ip: mine.ip, key, mac: mine.mac, at: this.now() });
    }
    const lease: Lease = { ip, ipInt: n, state: 'bound', key, mac, expires: exp, hostname, used: true };
    this.setLease(lease);
    records.push(hostname ? { t: 'L', ip, key, mac, exp, host: hostname } : { t: 'L', ip, key, mac, exp });
    return this.journal.commit(records).then(() => {
      this.maybeCompact();
      return lease;
    });
  }

  /** DHCPRELEASE: the client gives the address back. Ignored unless it is the client's. */
  release(key: string, ip: string): Promise<boolean> {
    const l = this.byIp.get(ipToInt(ip));
    if (!l || l.key !== key || l.state !== 'bound') return Promise.resolve(false);
    const at = this.now();
    this.setLease({ ...l, state: 'free', expires: at });
    return this.journal.commit([{ t: 'F', ip, key, mac: l.mac, at }]).then(() => true);
  }

  /**
   * DHCPDECLINE: the client found `ip` in use after we gave it to it. Only an
   * address bound or offered (live) to this same client can be declined, so a
   * stranger cannot quarantine static hosts' or other clients' addresses.
   * Resolves true when the address was quarantined.
   */
  decline(key: string, ip: string): Promise<boolean> {
    let n: number;
    try {
      n = ipToInt(ip);
    } catch {
      return Promise.resolve(false);
    }
    const l = this.byIp.get(n);
    if (!key || !l || l.key !== key || !this.isLive(l)) return Promise.resolve(false);
    return this.quarantine(n, ip).then(() => true);
  }

  private quarantine(n: number, ip: string): Promise<void> {
    const l = this.byIp.get(n);
    if (l && l.key && this.byKey.get(l.key) === l) this.byKey.delete(l.key);
    const until = this.now() + this.declineHoldMs;
    this.byIp.set(n, { ip, ipInt: n, state: 'declined', key: '', mac: '', expires: until, used: true });
    return this.journal.commit([{ t: 'D', ip, until }]);
  }

  // ----------------------------------------------------------- compaction

  /** The live state as journal records. */
  snapshot(): LeaseRecord[] {
    const now = this.now();
    const out: LeaseRecord[] = [];
    for (const l of this.byIp.values()) {
      if (l.state === 'bound') {
        if (l.expires + this.keepExpiredMs < now) continue;
        out.push(l.hostname ? { t: 'L', ip: l.ip, key: l.key, mac: l.mac, exp: l.expires, host: l.hostname } : { t: 'L', ip: l.ip, key: l.key, mac: l.mac, exp: l.expires });
      } else if (l.state === 'free') {
        if (l.expires + this.keepExpiredMs < now) continue;
        out.push({ t: 'F', ip: l.ip, key: l.key, mac: l.mac, at: l.expires });
      } else if (l.state === 'declined') {
        if (l.expires > now) out.push({ t: 'D', ip: l.ip, until: l.expires });
      }
      // offered: memory only
    }
    return out;
  }

  compact(): Promise<void> {
    if (!this.compacting) {
      this.compacting = this.journal.compact(() => this.snapshot()).finally(() => {
        this.compacting = null;
      });
    }
    return this.compacting;
  }

  private maybeCompact(): void {
    if (this.compacting) return;
    if (this.journal.recordCount > this.byIp.size * 2 + this.compactSlack) {
      this.compact().catch(() => {
        /* a failed compaction leaves the old journal in place; retried later */
      });
    }
  }

  /** Pool usage for gauges. */
  usage(pool: Pool): { size: number; bound: number } {
    const size = pool.end >= pool.start ? pool.end - pool.start + 1 : 0;
    let bound = 0;
    const now = this.now();
    for (const l of this.byIp.values()) if (l.state === 'bound' && l.expires > now && this.inRange(pool, l.ipInt)) bound++;
    return { size, bound };
  }
}
