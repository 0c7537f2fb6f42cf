/**
 * The lease journal against the failures a router meets: a full disk, a
 * flipped bit in the middle of the file, and a client that sends huge
 * strings. Each test names the defect it guards (issue 9, items 1-3).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, statSync, readdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, encodeFrame, parseFrames } from '../../src/leases/journal.js';
import { LeaseStore, type LeaseRecord } from '../../src/leases/store.js';
import type { SubnetConfig } from '../../src/config/types.js';

const subnet: SubnetConfig = {
  subnet: '10.77.0.0/16', network: '10.77.0.0', prefix: 16, netmask: '255.255.0.0',
  range: { start: '10.77.1.0', end: '10.77.200.255' }, router: '10.77.0.1', dns: [], lease: 3600, options: {},
};
const ipOf = (i: number) => `10.77.${1 + (i >> 8)}.${i & 255}`;

describe('journal on a full disk (item 1)', () => {
  let mnt: string;
  beforeAll(() => {
    mnt = mkdtempSync(join(tmpdir(), 'lb-fulldisk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]);
  });
  afterAll(() => {
    // Lazy: a store a failed assertion left open must not keep the mount (and the test dir) alive.
    execFileSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  /** Fill the filesystem so that only about `free` bytes remain. */
  function fill(free: number): string {
    const filler = join(mnt, 'filler');
    const fs = execFileSync('df', ['--output=avail', '-B1', mnt], { encoding: 'utf8' }).split('\n')[1]!.trim();
    const avail = Number(fs);
    writeFileSync(filler, Buffer.alloc(Math.max(0, avail - free)));
    return filler;
  }

  it('a short write is cut back: leases acknowledged once space returns survive the restart', async () => {
    const file = join(mnt, 'leases.journal');
    const s = new LeaseStore({ file, subnets: [subnet] });
    await s.open();
    const pool = s.pools[0]!;
    const filler = fill(6000);
    const acked: string[] = [];
    const failed: string[] = [];
    // Until the disk is full: some binds fail (ENOSPC), one of them mid-frame.
    for (let i = 0; i < 200; i++) {
      const ip = ipOf(i);
      try {
        await s.bind(`k${i}`, `m${i}`, ip, 3600, 'host-with-a-longish-name-' + i);
        acked.push(ip);
      } catch {
        failed.push(ip);
      }
    }
    expect(failed.length).toBeGreaterThan(0);
    // A lease whose record is not on disk must not be held in memory either.
    for (const ip of failed) expect(s.leaseAt(ip)).toBeUndefined();
    expect(s.allocate(pool, 'knew', 'mnew', { requested: failed[0] })?.ip).toBe(failed[0]);
    unlinkSync(filler);
    // Space is back: these are acknowledged and must survive.
    for (let i = 200; i < 240; i++) {
      await s.bind(`k${i}`, `m${i}`, ipOf(i), 3600);
      acked.push(ipOf(i));
    }
    await s.close();
    const s2 = new LeaseStore({ file, subnets: [subnet] });
    const r = await s2.open();
    const lost = acked.filter((ip) => !s2.leaseAt(ip));
    expect(lost).toEqual([]);
    expect(r.truncatedBytes).toBe(0); // nothing torn was left on disk
    await s2.close();
    rmSync(file);
  });
});

describe('journal with a corrupt record in the middle (item 2)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lb-journal-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('skips the bad frame, keeps every record after it, keeps a copy of the damaged file', async () => {
    const p = join(dir, 'leases.journal');
    const frames = Array.from({ length: 5709 }, (_, n) => encodeFrame({ n }));
    const buf = Buffer.concat(frames);
    // One flipped bit in the payload of record 100.
    let off = 0;
    for (let i = 0; i < 100; i++) off += frames[i]!.length;
    buf[off + 12] ^= 0x04;
    writeFileSync(p, buf);
    const j = new Journal<{ n: number }>(p);
    const r = await j.open();
    expect(r.records.length).toBe(5708);
    expect(r.records.map((x) => x.n)).not.toContain(100);
    expect(r.records.at(-1)).toEqual({ n: 5708 });
    expect(r.skippedBytes).toBe(frames[100]!.length);
    expect(r.damagedCopy).toBeDefined();
    expect(readFileSync(r.damagedCopy!)).toEqual(buf);
    // New records append after all the recovered ones and everything reloads.
    await j.commit([{ n: 9999 }]);
    await j.close();
    const again = parseFrames<{ n: number }>(readFileSync(p));
    expect(again.records.length).toBe(5709);
    expect(again.records.at(-1)).toEqual({ n: 9999 });
    expect(again.validBytes).toBe(statSync(p).size);
  });

  it('a corrupt length field is skipped too (resynchronises on the next frame header + CRC)', async () => {
    const p = join(dir, 'j');
    const frames = [encodeFrame({ n: 1 }), encodeFrame({ n: 2 }), encodeFrame({ n: 3 }), encodeFrame({ n: 4 })];
    frames[1]!.writeUInt32BE(0x00ffffff, 0); // length runs far past the file
    writeFileSync(p, Buffer.concat(frames));
    const j = new Journal<{ n: number }>(p);
    const r = await j.open();
    expect(r.records).toEqual([{ n: 1 }, { n: 3 }, { n: 4 }]);
    await j.close();
    expect(readdirSync(dir).filter((f) => f.includes('damaged'))).toHaveLength(1);
  });

  it('a torn tail (the crash case) is still cut off without a damaged copy', async () => {
    const p = join(dir, 'j');
    const third = encodeFrame({ n: 3 });
    writeFileSync(p, Buffer.concat([encodeFrame({ n: 1 }), encodeFrame({ n: 2 }), third.subarray(0, 7)]));
    const j = new Journal<{ n: number }>(p);
    const r = await j.open();
    expect(r.records).toEqual([{ n: 1 }, { n: 2 }]);
    expect(r.truncatedBytes).toBe(7);
    expect(r.damagedCopy).toBeUndefined();
    await j.close();
    expect(readdirSync(dir)).toEqual(['j']);
  });
});

describe('journal growth from one client (item 3)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lb-journal-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('2,000 renewals with a 60 KB hostname keep the journal small', async () => {
    const file = join(dir, 'leases.journal');
    const s = new LeaseStore({ file, subnets: [subnet] });
    await s.open();
    const huge = 'x'.repeat(60_000);
    for (let i = 0; i < 2000; i++) await s.bind('k1', 'm1', '10.77.1.1', 3600, huge);
    expect(s.leaseAt('10.77.1.1')!.hostname!.length).toBeLessThanOrEqual(255);
    await s.close();
    expect(statSync(file).size).toBeLessThan(1024 * 1024);
  });

  it('compacts by size when records are large, not only by count', async () => {
    const file = join(dir, 'leases.journal');
    const s = new LeaseStore({ file, subnets: [subnet], compactBytes: 64 * 1024 });
    await s.open();
    const name = 'n'.repeat(250);
    for (let i = 0; i < 1000; i++) await s.bind('k1', 'm1', '10.77.1.1', 3600, name + i);
    await s.close();
    expect(statSync(file).size).toBeLessThan(3 * 64 * 1024);
    const recs = parseFrames<LeaseRecord>(readFileSync(file)).records;
    expect(recs.length).toBeLessThan(1000);
  });

  it('a client identifier longer than a DHCP option can carry is refused, not journaled', async () => {
    const file = join(dir, 'leases.journal');
    const s = new LeaseStore({ file, subnets: [subnet] });
    await s.open();
    const key = 'id:' + 'ab'.repeat(30_000);
    await expect(s.bind(key, 'm1', '10.77.1.1', 3600)).rejects.toThrow(/client identifier/);
    expect(s.leaseAt('10.77.1.1')).toBeUndefined();
    await s.close();
    expect(statSync(file).size).toBe(0);
  });
});
