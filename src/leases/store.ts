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
import { Journal, type LoadResult } from './journal.js';
import { Pool, NEVER_USED } from './pool.js';

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
  /** Compact when the journal holds this many records (or as many as there are addresses, if more) more than twice the live state (default 10000). */
  compactSlack?: number;
  /** Compact when the journal has grown this many bytes past its size after the last compaction (default 8 MiB). */
  compactBytes?: number;
  noSync?: boolean;
  now?: () => number;
}

export { Pool };

export interface Allocation {
  ip: string;
  /** Never leased before: the service may ARP-probe it first. */
  fresh: boolean;
  /** A static address a client DECLINEd: probe it before offering it again. */
  probe?: boolean;
}

/** What open() found in the journal (the damage fields are LoadResult's). */
export type LoadSummary = { records: number } & Omit<LoadResult<LeaseRecord>, 'records' | 'validBytes'>;

/** Longest hostname kept (a DNS name is at most 253 characters). */
export const HOSTNAME_MAX = 255;
/** 'id:' + hex of a client identifier: RFC 2132 §9.14 gives it one option, 255 bytes. */
export const CLIENT_KEY_MAX = 3 + 2 * 255;
/** How often an apparently exhausted pool is rebuilt, recovering addresses handed out but never offered. */
const EXHAUSTED_REBUILD_MS = 5000;

/**
 * One journaled change made in memory ahead of its commit: how to revert it
 * (if nothing replaced it since) when the commit does not reach the disk, and
 * the addresses it touched.
 */
interface Change {
  undo: Array<() => void>;
  ips: number[];
}
const change = (): Change => ({ undo: [], ips: [] });

export class LeaseStore {
  readonly journal: Journal<LeaseRecord>;
  /** One per configured subnet; replaced (not mutated) by setSubnets on a reload. */
  pools: Pool[];
  private readonly byIp = new Map<number, Lease>();
  private readonly byKey = new Map<string, Lease>();
  private readonly reservedIp = new Map<number, string>();
  /** The server's own addresses: never handed out, whatever the range says. */
  private readonly ownIp = new Set<number>();
  /** Static addresses a client DECLINEd: in use by someone else until an ARP probe says otherwise. */
  private readonly suspect = new Set<number>();
  private readonly now: () => number;
  private readonly offerHoldMs: number;
  private readonly declineHoldMs: number;
  private readonly keepExpiredMs: number;
  private readonly compactSlack: number;
  private readonly compactBytes: number;
  private compacting: Promise<void> | null = null;
  private bytesAfterCompaction = 0;
  private loading = false;
  private lastExhaustedRebuild = -Infinity;
  /**
   * Addresses with journaled changes not settled yet (on disk, or undone):
   * the entry before the first of them, and how many are outstanding. A
   * compaction snapshot writes that entry, never state a failed write may undo.
   */
  private readonly unsettled = new Map<number, { prev: Lease | undefined; count: number }>();
  truncatedBytesOnLoad = 0;

  constructor(readonly opts: LeaseStoreOptions) {
    this.journal = new Journal<LeaseRecord>(opts.file, { commitDelayMs: opts.commitDelayMs, noSync: opts.noSync });
    this.now = opts.now ?? Date.now;
    this.offerHoldMs = opts.offerHoldMs ?? 30_000;
    this.declineHoldMs = opts.declineHoldMs ?? 600_000;
    this.keepExpiredMs = opts.keepExpiredMs ?? 86_400_000;
    this.compactSlack = opts.compactSlack ?? 10_000;
    this.compactBytes = opts.compactBytes ?? 8 * 1024 * 1024;
    for (const r of opts.reserved ?? []) this.reservedIp.set(ipToInt(r.ip), r.mac.toLowerCase());
    this.pools = opts.subnets.map((s) => new Pool(s));
  }

  /**
   * New subnets/ranges (config reload). Leases live by address, not by pool,
   * so nothing is lost: a bound address that falls outside every new range
   * stays bound until it expires, is not renewed (the service NAKs it, as
   * Kea and dnsmasq do) and is never offered again.
   */
  setSubnets(subnets: SubnetConfig[]): void {
    this.pools = subnets.map((s) => new Pool(s));
    this.rebuild();
  }

  /** Replace the static reservations (config reload). */
  setReserved(reserved: StaticReservation[]): void {
    this.reservedIp.clear();
    for (const r of reserved) this.reservedIp.set(ipToInt(r.ip), r.mac.toLowerCase());
    for (const n of this.suspect) if (!this.reservedIp.has(n)) this.suspect.delete(n);
    this.rebuild();
  }

  async open(): Promise<LoadSummary> {
    const r = await this.journal.open();
    this.loading = true;
    try {
      for (const rec of r.records) this.apply(rec);
    } finally {
      this.loading = false;
    }
    this.rebuild();
    this.truncatedBytesOnLoad = r.truncatedBytes;
    this.bytesAfterCompaction = this.journal.size;
    const { records, validBytes: _v, ...rest } = r;
    return { records: records.length, ...rest };
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
    if (rec.t === 'L') {
      this.setLease({ ip: rec.ip, ipInt: n, state: 'bound', key: rec.key, mac: rec.mac, expires: rec.exp, hostname: rec.host, used: true });
    } else if (rec.t === 'F') {
      this.setLease({ ip: rec.ip, ipInt: n, state: 'free', key: rec.key, mac: rec.mac, expires: rec.at, hostname: undefined, used: true });
    } else if (rec.t === 'D') {
      this.setDeclined(n, rec.ip, rec.until);
    }
  }

  // ----------------------------------------------------------- the two indexes

  /** Set (or delete) the entry for an address; every change goes through here so the pool's heap follows. */
  private putIp(n: number, l: Lease | undefined, ch?: Change): void {
    const prev = this.byIp.get(n);
    if (prev === l) return;
    if (l) this.byIp.set(n, l);
    else this.byIp.delete(n);
    this.touched(n);
    if (!ch) return;
    const u = this.unsettled.get(n);
    if (u) u.count++;
    else this.unsettled.set(n, { prev, count: 1 });
    ch.ips.push(n);
    ch.undo.push(() => {
      if (this.byIp.get(n) !== l) return;
      if (prev) this.byIp.set(n, prev);
      else this.byIp.delete(n);
      this.touched(n);
    });
  }

  private putKey(k: string, l: Lease | undefined, ch?: Change): void {
    const prev = this.byKey.get(k);
    if (prev === l) return;
    if (l) this.byKey.set(k, l);
    else this.byKey.delete(k);
    ch?.undo.push(() => {
      if (this.byKey.get(k) !== l) return;
      if (prev) this.byKey.set(k, prev);
      else this.byKey.delete(k);
    });
  }

  /** Put a lease in both indexes; a client holds one address at a time. */
  private setLease(l: Lease, undo?: Change): void {
    const old = this.byIp.get(l.ipInt);
    if (old && old.key !== l.key && this.byKey.get(old.key) === old) this.putKey(old.key, undefined, undo);
    const mine = this.byKey.get(l.key);
    if (mine && mine.ipInt !== l.ipInt && this.byIp.get(mine.ipInt) === mine) {
      // The client moved: its old address becomes free (keep nothing pointing at it).
      if (mine.state === 'offered') this.putIp(mine.ipInt, undefined, undo);
      else this.putIp(mine.ipInt, { ...mine, state: 'free', expires: Math.min(mine.expires, this.now()) }, undo);
    }
    this.putIp(l.ipInt, l, undo);
    if (l.key) this.putKey(l.key, l, undo);
  }

  private setDeclined(n: number, ip: string, until: number, undo?: Change): void {
    const prev = this.byIp.get(n);
    if (prev && prev.key && this.byKey.get(prev.key) === prev) this.putKey(prev.key, undefined, undo);
    this.putIp(n, { ip, ipInt: n, state: 'declined', key: '', mac: '', expires: until, hostname: undefined, used: true }, undo);
  }

  // ----------------------------------------------------------- allocation order

  /**
   * The server's own addresses (every interface, and server:): a pool that
   * contains one never offers it, and a client asking for it is refused.
   * Changes rebuild the pools, so an address that stops being ours is free again.
   */
  setOwnAddresses(ips: readonly string[]): void {
    const next = new Set<number>();
    for (const ip of ips) {
      try {
        next.add(ipToInt(ip));
      } catch {
        /* not IPv4 */
      }
    }
    if (next.size === this.ownIp.size && [...next].every((n) => this.ownIp.has(n))) return;
    this.ownIp.clear();
    for (const n of next) this.ownIp.add(n);
    this.rebuild();
  }

  /** Is this one of the server's own addresses (setOwnAddresses)? */
  isOwnAddress(ip: string): boolean {
    try {
      return this.ownIp.has(ipToInt(ip));
    } catch {
      return false;
    }
  }

  private poolOfIp(n: number): Pool | undefined {
    for (const p of this.pools) if (p.assignable(n)) return p;
    return undefined;
  }

  /** When the address may be handed out by its pool: NEVER_USED, else the end of its lease/offer/quarantine; undefined = never (reserved). */
  private freeKey(n: number): number | undefined {
    if (this.reservedIp.has(n) || this.ownIp.has(n)) return undefined;
    const l = this.byIp.get(n);
    return l ? l.expires : NEVER_USED;
  }

  private touched(n: number): void {
    if (this.loading) return;
    const p = this.poolOfIp(n);
    if (!p) return;
    const k = this.freeKey(n);
    // An address without state ahead of the sweep is found by the sweep itself.
    if (k === undefined || (k === NEVER_USED && n >= p.frontier)) return;
    p.push(k, n);
    if (p.heapSize > 2 * this.byIp.size + 4096) this.rebuildPool(p);
  }

  /** Drop stale heap entries: every known address of the pool once, and a fresh sweep for the rest. */
  private rebuildPool(p: Pool): void {
    p.reset();
    for (const [n, l] of this.byIp) {
      if (p.assignable(n) && !this.reservedIp.has(n) && !this.ownIp.has(n)) p.push(l.expires, n);
    }
  }

  private rebuild(): void {
    for (const p of this.pools) this.rebuildPool(p);
  }

  /** The pool's next address by its own order (never used, then free the longest), or undefined. */
  private nextFree(pool: Pool, now: number): Allocation | undefined {
    for (;;) {
      const key = pool.peekKey();
      if (key === undefined) break;
      const n = pool.peekIp();
      if (this.freeKey(n) !== key) {
        pool.pop(); // stale
        continue;
      }
      if (key !== NEVER_USED) break;
      pool.pop();
      return { ip: intToIp(n), fresh: true };
    }
    while (pool.frontier <= pool.end) {
      const n = pool.frontier++;
      if (n === pool.network || n === pool.broadcast || this.byIp.has(n) || this.reservedIp.has(n) || this.ownIp.has(n)) continue;
      return { ip: intToIp(n), fresh: true };
    }
    const key = pool.peekKey();
    if (key !== undefined && key <= now) {
      const n = pool.peekIp();
      pool.pop();
      return { ip: intToIp(n), fresh: !this.byIp.get(n)?.used };
    }
    return undefined;
  }

  // ----------------------------------------------------------- queries

  poolFor(subnet: SubnetConfig): Pool | undefined {
    return this.pools.find((p) => p.subnet === subnet) ?? this.pools.find((p) => p.subnet.subnet === subnet.subnet);
  }

  inSubnet(pool: Pool, ip: string | number): boolean {
    return pool.inSubnet(typeof ip === 'number' ? ip : ipToInt(ip));
  }

  inRange(pool: Pool, n: number): boolean {
    return pool.inRange(n);
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
    if (!this.inSubnet(pool, n) || this.ownIp.has(n)) return false;
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
   * address, else the one free the longest. null = pool exhausted.
   * An address handed out here is not held: the caller offers it (or reports a conflict).
   */
  allocate(pool: Pool, key: string, mac: string, hint: { fixed?: string; requested?: string } = {}): Allocation | null {
    const now = this.now();
    if (hint.fixed) {
      if (!this.available(pool, hint.fixed, key, mac)) return null;
      const n = ipToInt(hint.fixed);
      return this.suspect.has(n) ? { ip: hint.fixed, fresh: false, probe: true } : { ip: hint.fixed, fresh: !this.byIp.get(n)?.used };
    }
    const mine = this.byKey.get(key);
    if (mine && mine.state !== 'declined' && pool.inRange(mine.ipInt) && this.available(pool, mine.ip, key, mac)) {
      return { ip: mine.ip, fresh: !mine.used };
    }
    if (hint.requested) {
      let n = -1;
      try {
        n = ipToInt(hint.requested);
      } catch {
        /* ignore a bad hint */
      }
      if (n >= 0 && pool.inRange(n) && this.available(pool, hint.requested, key, mac)) {
        return { ip: hint.requested, fresh: !this.byIp.get(n)?.used };
      }
    }
    if (pool.size === 0) return null;
    const a = this.nextFree(pool, now);
    if (a) return a;
    // Addresses handed out above but never offered fall out of the pool's order; a rebuild finds them.
    if (now - this.lastExhaustedRebuild < EXHAUSTED_REBUILD_MS) return null;
    this.lastExhaustedRebuild = now;
    this.rebuildPool(pool);
    return this.nextFree(pool, now) ?? null;
  }

  /** Hold `ip` for `key` while the client decides (memory only). */
  offer(key: string, mac: string, ip: string): void {
    const n = ipToInt(ip);
    this.suspect.delete(n); // offered after a clean probe
    const cur = this.byIp.get(n);
    if (cur && cur.key === key && cur.state === 'bound' && cur.expires > this.now()) return; // already bound: keep
    this.setLease(this.newLease(n, ip, 'offered', key, mac, this.now() + this.offerHoldMs, cur?.used ?? false, undefined));
  }

  /**
   * A new entry for address n, sharing the strings of the entries already
   * held for the address and the client where they are equal: entries live
   * long (old generation), so the request's copies then die young instead.
   */
  private newLease(n: number, ip: string, state: LeaseState, key: string, mac: string, expires: number, used: boolean, hostname: string | undefined): Lease {
    const at = this.byIp.get(n);
    const mine = this.byKey.get(key);
    if (at && at.ip === ip) ip = at.ip;
    if (mine) {
      key = mine.key;
      if (mine.mac === mac) mac = mine.mac;
      if (hostname !== undefined && mine.hostname === hostname) hostname = mine.hostname;
    } else if (at && at.mac === mac) mac = at.mac;
    return { ip, ipInt: n, state, key, mac, expires, hostname, used };
  }

  /**
   * Bind an entry nothing else has a change pending for (the caller checks
   * `unsettled`), in place: no new long-lived entry per renewal. The copy of
   * the old fields is what an undo restores and what a compaction snapshot
   * writes until the change settles; it dies young.
   */
  private updateInPlace(l: Lease, expires: number, hostname: string | undefined, ch: Change): void {
    const n = l.ipInt;
    const before: Lease = { ...l };
    l.state = 'bound';
    l.expires = expires;
    l.hostname = hostname;
    l.used = true;
    this.touched(n);
    this.unsettled.set(n, { prev: before, count: 1 });
    ch.ips.push(n);
    ch.undo.push(() => {
      // Nothing replaced the entry since (a later in-place update waits for this one to settle).
      if (this.byIp.get(n) !== l) return;
      l.state = before.state;
      l.expires = before.expires;
      l.hostname = before.hostname;
      l.used = before.used;
      this.touched(n);
    });
  }

  /** The client chose another server: forget our offer. */
  dropOffer(key: string): void {
    const l = this.byKey.get(key);
    if (l && l.state === 'offered') {
      this.putKey(key, undefined);
      if (this.byIp.get(l.ipInt) === l) this.putIp(l.ipInt, undefined);
    }
  }

  /**
   * Mark an address as in use by someone we do not know (ARP probe answered).
   * A static host's address is not quarantined: it stays suspect and is
   * probed again before each offer, so a conflict keeps it off the network
   * only while the conflict lasts.
   */
  conflict(ip: string): Promise<void> {
    const n = ipToInt(ip);
    if (this.reservedIp.has(n)) {
      this.suspect.add(n);
      return Promise.resolve();
    }
    return this.quarantine(n, ip);
  }

  // ----------------------------------------------------------- changes (journaled)

  /**
   * Commit records for changes already made in memory (so concurrent requests
   * see them at once). If the records do not reach the disk, the changes are
   * undone: nothing is held that a restart would not know.
   */
  private commit(records: LeaseRecord[], ch: Change): Promise<void> {
    return this.journal.commit(records).then(
      () => {
        this.settle(ch);
        this.maybeCompact();
      },
      (e: Error) => {
        for (let i = ch.undo.length - 1; i >= 0; i--) ch.undo[i]!();
        this.settle(ch);
        throw e;
      },
    );
  }

  private settle(ch: Change): void {
    for (const n of ch.ips) {
      const u = this.unsettled.get(n);
      if (u && --u.count === 0) this.unsettled.delete(n);
    }
  }

  /**
   * Bind `ip` to the client for `seconds`. Memory is updated at once (so
   * concurrent requests see it); the promise resolves when the record is on
   * disk — send the ACK only then. Rejects (and forgets the binding) when it
   * is not.
   */
  bind(key: string, mac: string, ip: string, seconds: number, hostname?: string): Promise<Lease> {
    if (key.length > CLIENT_KEY_MAX) return Promise.reject(new Error(`client identifier longer than 255 bytes (${(key.length - 3) >> 1})`));
    const host = hostname === undefined ? undefined : clip(hostname, HOSTNAME_MAX);
    const n = ipToInt(ip);
    const exp = this.now() + seconds * 1000;
    const records: LeaseRecord[] = [];
    const undo = change();
    const mine = this.byKey.get(key);
    let lease: Lease;
    if (mine && mine.ipInt === n && mine.state !== 'declined' && mine.mac === mac && this.byIp.get(n) === mine && !this.unsettled.has(n)) {
      // The REQUEST after our OFFER, or a renewal: the entry is updated in place.
      lease = mine;
      this.updateInPlace(mine, exp, host === mine.hostname ? mine.hostname : host, undo);
    } else {
      if (mine && mine.ipInt !== n && (mine.state === 'bound' || mine.state === 'free') && this.byIp.get(mine.ipInt) === mine) {
        records.push({ t: 'F', ip: mine.ip, key: mine.key, mac: mine.mac, at: this.now() });
      }
      lease = this.newLease(n, ip, 'bound', key, mac, exp, true, host);
      this.setLease(lease, undo);
    }
    records.push(host ? { t: 'L', ip: lease.ip, key: lease.key, mac: lease.mac, exp, host } : { t: 'L', ip: lease.ip, key: lease.key, mac: lease.mac, exp });
    return this.commit(records, undo).then(() => lease);
  }

  /** DHCPRELEASE: the client gives the address back. Ignored unless it is the client's. */
  release(key: string, ip: string): Promise<boolean> {
    const l = this.byIp.get(ipToInt(ip));
    if (!l || l.key !== key || l.state !== 'bound') return Promise.resolve(false);
    const at = this.now();
    const undo = change();
    this.setLease({ ...l, state: 'free', expires: at }, undo);
    return this.commit([{ t: 'F', ip, key, mac: l.mac, at }], undo).then(() => true);
  }

  /**
   * DHCPDECLINE: the client found `ip` in use after we gave it to it. Only an
   * address bound or offered (live) to this same client can be declined, so a
   * stranger cannot quarantine static hosts' or other clients' addresses.
   * A static host's address is only marked suspect (see conflict()): its MAC
   * is easily spoofed, and a quarantine would keep the real host off the LAN.
   * Resolves true when the decline was taken.
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
    return this.conflict(ip).then(() => true);
  }

  private quarantine(n: number, ip: string): Promise<void> {
    const until = this.now() + this.declineHoldMs;
    const undo = change();
    this.setDeclined(n, ip, until, undo);
    return this.commit([{ t: 'D', ip, until }], undo);
  }

  // ----------------------------------------------------------- compaction

  /**
   * The state on disk as journal records: the live state, except that an
   * address whose change is still being written contributes the entry before
   * it (that write, if it succeeds, is carried over by the journal).
   */
  snapshot(): LeaseRecord[] {
    const now = this.now();
    const out: LeaseRecord[] = [];
    for (const [n, cur] of this.byIp) {
      const u = this.unsettled.get(n);
      this.recordOf(u ? u.prev : cur, now, out);
    }
    for (const [n, u] of this.unsettled) if (!this.byIp.has(n)) this.recordOf(u.prev, now, out);
    return out;
  }

  private recordOf(l: Lease | undefined, now: number, out: LeaseRecord[]): void {
    if (!l) return;
    if (l.state === 'bound') {
      if (l.expires + this.keepExpiredMs < now) return;
      out.push(l.hostname ? { t: 'L', ip: l.ip, key: l.key, mac: l.mac, exp: l.expires, host: l.hostname } : { t: 'L', ip: l.ip, key: l.key, mac: l.mac, exp: l.expires });
    } else if (l.state === 'free') {
      if (l.expires + this.keepExpiredMs < now) return;
      out.push({ t: 'F', ip: l.ip, key: l.key, mac: l.mac, at: l.expires });
    } else if (l.state === 'declined') {
      if (l.expires > now) out.push({ t: 'D', ip: l.ip, until: l.expires });
    }
    // offered: memory only
  }

  /** Compact; resolves once a compaction that began after this call is done (one already running is waited for first). */
  compact(): Promise<void> {
    const run = (): Promise<void> =>
      this.journal.compact(() => this.snapshot()).then(() => {
        this.bytesAfterCompaction = this.journal.size;
      });
    const p: Promise<void> = (this.compacting ? this.compacting.catch(() => undefined).then(run) : run()).finally(() => {
      if (this.compacting === p) this.compacting = null;
    });
    this.compacting = p;
    return p;
  }

  /** Compact when the journal holds far more records, or bytes, than the live state needs. */
  private maybeCompact(): void {
    if (this.compacting) return;
    const j = this.journal;
    // The slack grows with the state: a compaction costs O(leases), so it comes at most once per O(leases) records.
    if (j.recordCount > this.byIp.size * 2 + Math.max(this.compactSlack, this.byIp.size) || j.size > 2 * this.bytesAfterCompaction + this.compactBytes) {
      this.compact().catch(() => {
        /* a failed compaction leaves the old journal in place; retried later */
      });
    }
  }

  /** Pool usage for gauges. */
  usage(pool: Pool): { size: number; bound: number } {
    const size = pool.size;
    let bound = 0;
    const now = this.now();
    for (const l of this.byIp.values()) if (l.state === 'bound' && l.expires > now && this.inRange(pool, l.ipInt)) bound++;
    return { size, bound };
  }
}

/** At most `max` UTF-16 units, never splitting a surrogate pair. */
function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  const end = /[\uD800-\uDBFF]/.test(s[max - 1]!) ? max - 1 : max;
  return s.slice(0, end);
}
