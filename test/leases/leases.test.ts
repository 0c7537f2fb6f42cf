import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, appendFileSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, encodeFrame, parseFrames } from '../../src/leases/journal.js';
import { LeaseStore, type LeaseRecord } from '../../src/leases/store.js';
import type { SubnetConfig } from '../../src/config/types.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lb-leases-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const subnet: SubnetConfig = {
  subnet: '10.77.0.0/24', network: '10.77.0.0', prefix: 24, netmask: '255.255.255.0',
  range: { start: '10.77.0.100', end: '10.77.0.103' }, router: '10.77.0.1', dns: [], lease: 3600, options: {},
};

describe('Journal', () => {
  it('commits survive reopen; concurrent commits share fsyncs (group commit)', async () => {
    const j = new Journal<{ n: number }>(join(dir, 'j'));
    await j.open();
    await Promise.all(Array.from({ length: 200 }, (_, n) => j.commit([{ n }])));
    expect(j.commits).toBe(200);
    expect(j.syncs).toBeLessThan(200);
    await j.close();
    const j2 = new Journal<{ n: number }>(join(dir, 'j'));
    const r = await j2.open();
    expect(r.records.map((x) => x.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, n) => n));
    expect(r.truncatedBytes).toBe(0);
    await j2.close();
  });

  it('a torn tail is detected, truncated, and the next append lands on a frame boundary', async () => {
    const p = join(dir, 'j');
    writeFileSync(p, Buffer.concat([encodeFrame({ n: 1 }), encodeFrame({ n: 2 })]));
    const third = encodeFrame({ n: 3 });
    appendFileSync(p, third.subarray(0, third.length - 3)); // kill -9 mid-write
    const j = new Journal<{ n: number }>(p);
    const r = await j.open();
    expect(r.records).toEqual([{ n: 1 }, { n: 2 }]);
    expect(r.truncatedBytes).toBe(third.length - 3);
    await j.commit([{ n: 4 }]);
    await j.close();
    expect(parseFrames(readFileSync(p)).records).toEqual([{ n: 1 }, { n: 2 }, { n: 4 }]);
  });

  it('a corrupt frame (CRC mismatch) is skipped; the frames after it are kept', () => {
    const a = encodeFrame({ n: 1 });
    const b = encodeFrame({ n: 2 });
    b[b.length - 2] ^= 0xff;
    const r = parseFrames(Buffer.concat([a, b, encodeFrame({ n: 3 })]));
    expect(r.records).toEqual([{ n: 1 }, { n: 3 }]);
    expect(r.skippedBytes).toBe(b.length);
  });

  it('compaction replaces the file atomically and keeps commits made during it', async () => {
    const p = join(dir, 'j');
    const j = new Journal<{ n: number }>(p);
    await j.open();
    // The "state" a snapshot summarizes: the highest n committed.
    let max = -1;
    const commit = (n: number) => {
      max = Math.max(max, n);
      return j.commit([{ n }]);
    };
    for (let n = 0; n < 50; n++) await commit(n);
    const during = commit(99);
    const c = j.compact(() => [{ n: max }]);
    const after = commit(100);
    await Promise.all([during, c, after]);
    await j.close();
    const recs = parseFrames<{ n: number }>(readFileSync(p)).records.map((r) => r.n);
    expect(Math.max(...recs)).toBe(100);
    expect(recs.length).toBeLessThan(4);
    expect(readdirSync(dir)).toEqual(['j']); // no temp file left
  });
});

describe('Journal compaction beside live commits', () => {
  it('commits made while the snapshot is written complete before it ends, and land in the new file', async () => {
    const p = join(dir, 'j');
    const j = new Journal<{ n: number; pad?: string }>(p);
    await j.open();
    const state = Array.from({ length: 20_000 }, (_, n) => ({ n, pad: 'x'.repeat(40) }));
    let compacted = false;
    const c = j.compact(() => state).then(() => (compacted = true));
    const doneDuring: number[] = [];
    const commits: Array<Promise<void>> = [];
    for (let n = 20_000; n < 20_050; n++) {
      commits.push(j.commit([{ n }]).then(() => void (compacted || doneDuring.push(n))));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all([c, ...commits]);
    // Not held for the whole compaction: the first commits were on disk before it ended.
    expect(doneDuring.length).toBeGreaterThan(0);
    expect(compacted).toBe(true);
    await j.close();
    const ns = new Set(parseFrames<{ n: number }>(readFileSync(p)).records.map((r) => r.n));
    for (let n = 0; n < 20_050; n++) if (!ns.has(n)) throw new Error(`record ${n} lost`);
    expect(readdirSync(dir)).toEqual(['j']);
  });
});

describe('LeaseStore', () => {
  let clock = 1_000_000;
  const now = () => clock;
  const open = async (extra: Partial<ConstructorParameters<typeof LeaseStore>[0]> = {}) => {
    const s = new LeaseStore({ file: join(dir, 'leases'), subnets: [subnet], now, ...extra });
    await s.open();
    return s;
  };

  it('allocates from the range, keeps a client on its address, survives restart', async () => {
    const s = await open();
    const pool = s.pools[0]!;
    const a = s.allocate(pool, 'k1', 'm1')!;
    expect(a).toEqual({ ip: '10.77.0.100', fresh: true });
    s.offer('k1', 'm1', a.ip);
    expect(s.allocate(pool, 'k2', 'm2')!.ip).toBe('10.77.0.101'); // held offer is skipped
    await s.bind('k1', 'm1', a.ip, 60);
    expect(s.allocate(pool, 'k1', 'm1')).toEqual({ ip: '10.77.0.100', fresh: false });
    await s.close();
    const s2 = await open();
    expect(s2.leaseOf('k1')?.ip).toBe('10.77.0.100');
    expect(s2.available(s2.pools[0]!, '10.77.0.100', 'k2', 'm2')).toBe(false);
    await s2.close();
  });

  it('never gives a static host address to another client; static outside the pool works', async () => {
    const s = await open({ reserved: [{ ip: '10.77.0.100', mac: 'aa:aa:aa:aa:aa:aa' }, { ip: '10.77.0.10', mac: 'bb:bb:bb:bb:bb:bb' }] });
    const pool = s.pools[0]!;
    expect(s.allocate(pool, 'k1', 'm1')!.ip).toBe('10.77.0.101');
    expect(s.allocate(pool, 'k1', 'm1', { requested: '10.77.0.100' })!.ip).not.toBe('10.77.0.100');
    expect(s.allocate(pool, 'ks', 'aa:aa:aa:aa:aa:aa', { fixed: '10.77.0.100' })!.ip).toBe('10.77.0.100');
    expect(s.allocate(pool, 'kb', 'bb:bb:bb:bb:bb:bb', { fixed: '10.77.0.10' })!.ip).toBe('10.77.0.10');
    expect(s.available(pool, '10.77.0.10', 'k1', 'm1')).toBe(false);
    await s.close();
  });

  it("never hands out the server's own addresses; one that stops being ours is free again", async () => {
    const s = await open();
    const pool = s.pools[0]!;
    // A lease from before the address became ours is not renewed to anyone either.
    await s.bind('k0', 'm0', '10.77.0.101', 60);
    s.setOwnAddresses(['10.77.0.100', '10.77.0.101', '192.0.2.1']);
    expect(s.allocate(pool, 'k1', 'm1', { requested: '10.77.0.100' })!.ip).toBe('10.77.0.102');
    s.offer('k1', 'm1', '10.77.0.102');
    expect(s.allocate(pool, 'k0', 'm0')!.ip).toBe('10.77.0.103');
    expect(s.available(pool, '10.77.0.100', 'k2', 'm2')).toBe(false);
    expect(s.available(pool, '10.77.0.101', 'k0', 'm0')).toBe(false);
    expect(s.allocate(pool, 'kf', 'mf', { fixed: '10.77.0.100' })).toBeNull();
    expect(s.isOwnAddress('10.77.0.100')).toBe(true);
    s.setOwnAddresses(['10.77.0.101']);
    expect(s.allocate(pool, 'k2', 'm2')!.ip).toBe('10.77.0.100');
    await s.close();
  });

  it('honours a requested address when free; pool exhaustion returns null; expiry frees', async () => {
    const s = await open();
    const pool = s.pools[0]!;
    expect(s.allocate(pool, 'k1', 'm1', { requested: '10.77.0.102' })!.ip).toBe('10.77.0.102');
    for (let i = 0; i < 4; i++) await s.bind('k' + i, 'm' + i, s.allocate(pool, 'k' + i, 'm' + i)!.ip, 10);
    expect(s.allocate(pool, 'k9', 'm9')).toBeNull();
    clock += 11_000;
    const a = s.allocate(pool, 'k9', 'm9')!;
    expect(a.fresh).toBe(false);
    expect(a.ip).toMatch(/^10\.77\.0\.10[0-3]$/);
    await s.close();
  });

  it('DECLINE quarantines the address, persistently, for the hold time', async () => {
    const s = await open({ declineHoldMs: 5000 });
    const pool = s.pools[0]!;
    await s.bind('k1', 'm1', '10.77.0.100', 60);
    await s.decline('k1', '10.77.0.100');
    expect(s.leaseOf('k1')).toBeUndefined();
    expect(s.allocate(pool, 'k1', 'm1')!.ip).not.toBe('10.77.0.100');
    await s.close();
    const s2 = await open({ declineHoldMs: 5000 });
    expect(s2.available(s2.pools[0]!, '10.77.0.100', 'k2', 'm2')).toBe(false);
    clock += 6000;
    expect(s2.available(s2.pools[0]!, '10.77.0.100', 'k2', 'm2')).toBe(true);
    await s2.close();
  });

  it('DECLINE is refused for an address the client does not hold (free, reserved, or another client\'s)', async () => {
    const s = await open({ reserved: [{ ip: '10.77.0.10', mac: 'm9' }] });
    const pool = s.pools[0]!;
    await s.bind('k1', 'm1', '10.77.0.100', 60);
    expect(await s.decline('stranger', '10.77.0.101')).toBe(false); // nobody holds it
    expect(await s.decline('stranger', '10.77.0.10')).toBe(false); // a static host's address
    expect(await s.decline('stranger', '10.77.0.100')).toBe(false); // k1's lease
    expect(s.available(pool, '10.77.0.101', 'k2', 'm2')).toBe(true);
    expect(s.available(pool, '10.77.0.10', 'k9', 'm9')).toBe(true);
    expect(s.leaseOf('k1')?.ip).toBe('10.77.0.100');
    expect(s.all().some((l) => l.state === 'declined')).toBe(false);
    // An offer counts as the client's: it may decline what it was offered.
    s.offer('k2', 'm2', '10.77.0.102');
    expect(await s.decline('k2', '10.77.0.102')).toBe(true);
    expect(s.available(pool, '10.77.0.102', 'k3', 'm3')).toBe(false);
    // The ARP-probe path still quarantines addresses nobody holds.
    await s.conflict('10.77.0.103');
    expect(s.available(pool, '10.77.0.103', 'k3', 'm3')).toBe(false);
    await s.close();
  });

  it('RELEASE frees the address but keeps affinity; others cannot release it', async () => {
    const s = await open();
    const pool = s.pools[0]!;
    await s.bind('k1', 'm1', '10.77.0.101', 60);
    expect(await s.release('k2', '10.77.0.101')).toBe(false);
    expect(s.leaseOf('k1')?.ip).toBe('10.77.0.101');
    expect(await s.release('k1', '10.77.0.101')).toBe(true);
    expect(s.leaseOf('k1')).toBeUndefined();
    expect(s.allocate(pool, 'k1', 'm1')!.ip).toBe('10.77.0.101');
    await s.close();
  });

  it('a client that moves holds one lease: its old address is freed in the journal', async () => {
    const s = await open();
    await s.bind('k1', 'm1', '10.77.0.100', 60);
    await s.bind('k1', 'm1', '10.77.0.102', 60);
    await s.close();
    const s2 = await open();
    expect(s2.leaseOf('k1')?.ip).toBe('10.77.0.102');
    expect(s2.leaseAt('10.77.0.100')).toBeUndefined();
    await s2.close();
  });

  it('compaction keeps the live state and drops history', async () => {
    const s = await open({ compactSlack: 20 });
    for (let i = 0; i < 100; i++) await s.bind('k1', 'm1', i % 2 ? '10.77.0.100' : '10.77.0.101', 60);
    await s.compact();
    const size = statSync(join(dir, 'leases')).size;
    await s.close();
    const recs = parseFrames<LeaseRecord>(readFileSync(join(dir, 'leases'))).records;
    expect(recs.length).toBeLessThanOrEqual(2);
    expect(size).toBeLessThan(300);
    const s2 = await open();
    expect(s2.leaseOf('k1')?.ip).toBe('10.77.0.100');
    await s2.close();
  });
  it('a compaction snapshot holds what is on disk, never a change whose write is still pending', async () => {
    const s = await open();
    await s.bind('k1', 'm1', '10.77.0.100', 60);
    const bound = { t: 'L', ip: '10.77.0.100', key: 'k1', mac: 'm1', exp: clock + 60_000 };
    const released = s.release('k1', '10.77.0.100');
    const other = s.bind('k2', 'm2', '10.77.0.101', 60);
    // Were the release's write to fail, it would be undone: the snapshot must not have it yet.
    expect(s.snapshot()).toEqual([bound]);
    await Promise.all([released, other]);
    expect(s.snapshot()).toEqual([
      { t: 'F', ip: '10.77.0.100', key: 'k1', mac: 'm1', at: clock },
      { t: 'L', ip: '10.77.0.101', key: 'k2', mac: 'm2', exp: clock + 60_000 },
    ]);
    await s.close();
  });

  it('a renewal (the entry updated in place) that does not reach the disk is undone; a compaction never holds it', async () => {
    const s = await open();
    const ip = '10.77.0.100';
    const first = await s.bind('k1', 'm1', ip, 60, 'h1');
    const exp1 = clock + 60_000;
    clock += 10_000;
    const commit = s.journal.commit.bind(s.journal);
    let failNext = true;
    s.journal.commit = (records) => (failNext ? ((failNext = false), Promise.reject(new Error('EIO'))) : commit(records));
    const renewal = s.bind('k1', 'm1', ip, 60, 'h2');
    // Pending: memory has it (concurrent requests see it), the snapshot has what is on disk.
    expect(s.leaseAt(ip)?.expires).toBe(clock + 60_000);
    expect(s.snapshot()).toEqual([{ t: 'L', ip, key: 'k1', mac: 'm1', exp: exp1, host: 'h1' }]);
    await expect(renewal).rejects.toThrow('EIO');
    expect(s.leaseAt(ip)).toMatchObject({ state: 'bound', expires: exp1, hostname: 'h1' });
    expect(s.leaseAt(ip)).toBe(first);
    // The REQUEST after an OFFER, failed: the offer is back, not a binding.
    s.offer('k2', 'm2', '10.77.0.101');
    failNext = true;
    await expect(s.bind('k2', 'm2', '10.77.0.101', 60)).rejects.toThrow('EIO');
    expect(s.leaseOf('k2')?.state).toBe('offered');
    // A second renewal while the first is pending replaces the entry; the first one's failure leaves it alone.
    failNext = true;
    const r1 = s.bind('k1', 'm1', ip, 60);
    clock += 1000;
    const r2 = s.bind('k1', 'm1', ip, 120);
    await expect(r1).rejects.toThrow('EIO');
    await r2;
    expect(s.leaseAt(ip)?.expires).toBe(clock + 120_000);
    expect(s.snapshot()).toContainEqual({ t: 'L', ip, key: 'k1', mac: 'm1', exp: clock + 120_000 });
    await s.close();
    const s2 = await open();
    expect(s2.leaseAt(ip)?.expires).toBe(clock + 120_000);
    await s2.close();
  });

  it('hands out never-used addresses first, then the one free the longest', async () => {
    const s = await open();
    const pool = s.pools[0]!;
    await s.bind('k0', 'm0', '10.77.0.100', 10);
    await s.bind('k1', 'm1', '10.77.0.101', 20);
    await s.bind('k2', 'm2', '10.77.0.102', 30);
    await s.release('k1', '10.77.0.101'); // free now: the longest-free once the others expire
    expect(s.allocate(pool, 'n1', 'x1')).toEqual({ ip: '10.77.0.103', fresh: true });
    s.offer('n1', 'x1', '10.77.0.103');
    expect(s.allocate(pool, 'n2', 'x2')).toEqual({ ip: '10.77.0.101', fresh: false });
    s.offer('n2', 'x2', '10.77.0.101');
    expect(s.allocate(pool, 'n3', 'x3')).toBeNull(); // .100 and .102 are still bound
    clock += 25_000;
    expect(s.allocate(pool, 'n3', 'x3')!.ip).toBe('10.77.0.100'); // expired first
    await s.close();
  });

  it('an address handed out but never offered comes back; a dropped offer is never-used again', async () => {
    const s = await open();
    const pool = s.pools[0]!;
    for (let i = 0; i < 4; i++) s.offer('k' + i, 'm' + i, s.allocate(pool, 'k' + i, 'm' + i)!.ip);
    s.dropOffer('k2'); // the client took another server's offer
    expect(s.allocate(pool, 'k9', 'm9')).toEqual({ ip: '10.77.0.102', fresh: true });
    // ...but that DISCOVER never got its offer (e.g. the server stopped mid-probe): still not lost.
    clock += 10_000;
    expect(s.allocate(pool, 'k8', 'm8')).toEqual({ ip: '10.77.0.102', fresh: true });
    await s.close();
  });

  it('a DECLINEd static address is probed before the next offer, never quarantined', async () => {
    const s = await open({ reserved: [{ ip: '10.77.0.10', mac: 'aa:aa:aa:aa:aa:aa' }] });
    const pool = s.pools[0]!;
    const key = 'hw:01:aaaaaaaaaaaa';
    expect(s.allocate(pool, key, 'aa:aa:aa:aa:aa:aa', { fixed: '10.77.0.10' })).toEqual({ ip: '10.77.0.10', fresh: true });
    s.offer(key, 'aa:aa:aa:aa:aa:aa', '10.77.0.10');
    expect(await s.decline(key, '10.77.0.10')).toBe(true);
    expect(s.all().some((l) => l.state === 'declined')).toBe(false);
    expect(s.allocate(pool, key, 'aa:aa:aa:aa:aa:aa', { fixed: '10.77.0.10' })).toMatchObject({ ip: '10.77.0.10', probe: true });
    s.offer(key, 'aa:aa:aa:aa:aa:aa', '10.77.0.10'); // the probe found nobody
    expect(s.allocate(pool, key, 'aa:aa:aa:aa:aa:aa', { fixed: '10.77.0.10' })?.probe).toBeUndefined();
    await s.close();
    expect(readFileSync(join(dir, 'leases')).length).toBe(0); // nothing journaled for it
  });

  it('a reload to a new range keeps the leases and allocates from the new range', async () => {
    const s = await open();
    await s.bind('k1', 'm1', '10.77.0.100', 60);
    s.setSubnets([{ ...subnet, range: { start: '10.77.0.150', end: '10.77.0.151' } }]);
    const pool = s.pools[0]!;
    expect(s.leaseOf('k1')?.ip).toBe('10.77.0.100');
    expect(s.allocate(pool, 'k2', 'm2')!.ip).toBe('10.77.0.150');
    await s.close();
  });
});
