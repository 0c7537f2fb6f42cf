/**
 * DHCP floods against `lanboot start` with every service on (fixtures/site.ts),
 * each against a fresh server whose pool is full: each a fixed number of
 * packets from the flood namespace while the real clients (udhcpc as the
 * static and as a dynamic host, curl TFTP and HTTP, the RPL ROM simulator)
 * must be served in their usual timeouts. After each: the server lives, its
 * peak RSS is bounded, and the counters say the flood arrived and was dropped
 * or refused for the reason it was built to trigger (issue 9, "How it is shown").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Site, expectServed, BIG_POOL_SIZE, OWNERS, STATIC_IP, STATIC_MAC, type Round } from './fixtures/site.js';

const site = new Site({ fullPool: true });
beforeAll(() => site.open(), 60_000);
afterAll(() => site.close());

const drops = (r: Round, reason?: string | RegExp) => r.sum('lanboot_dhcp_dropped_total', reason === undefined ? {} : { reason });

/** Lease records in the journal for `mac` (frames: u32 length, u32 CRC, JSON). */
function journalRecords(file: string, mac: string): Array<Record<string, unknown>> {
  const buf = readFileSync(file);
  const out: Array<Record<string, unknown>> = [];
  for (let off = 0; off + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(off);
    const rec = JSON.parse(buf.subarray(off + 8, off + 8 + len).toString('utf8')) as Record<string, unknown>;
    if (rec.mac === mac) out.push(rec);
    off += 8 + len;
  }
  return out;
}

describe('DHCP floods, the pool full', () => {
  it('fuzzed packets (test/dhcp/fuzz-gen.ts) at the packet socket are dropped as malformed and counted', async () => {
    const count = 20_000;
    const r = await site.round('DHCP fuzzed packets', { kind: 'dhcp-fuzz', count, perMs: 4, seed: 0x5eed }, {
      note: (r) => ({ dropped: drops(r), malformed: drops(r, /^malformed_/) }),
    });
    expectServed(r, count);
    expect(drops(r, /^malformed_/)).toBeGreaterThan(count / 4);
    expect(drops(r)).toBeGreaterThan(count / 2);
    expect(drops(r, 'internal')).toBe(0);
  }, 60_000);

  it(`DISCOVERs from new MACs on a full ${BIG_POOL_SIZE}-address pool are each refused as pool_exhausted`, async () => {
    const count = 20_000;
    const r = await site.round('DHCP DISCOVER, new MACs, full pool', { kind: 'discover', count, perMs: 4 }, {
      poolSize: BIG_POOL_SIZE,
      note: (r) => ({ dropped: drops(r, 'pool_exhausted') }),
    });
    expectServed(r, count);
    expect(drops(r, 'pool_exhausted')).toBeGreaterThanOrEqual(count * 0.95);
  }, 60_000);

  it('INFORMs whose ciaddr never answers ARP: the replies are dropped unsent and counted', async () => {
    const count = 20_000;
    const unresolved = (r: Round) => r.sum('lanboot_udp_send_dropped_total', { service: 'dhcp', reason: 'unresolved' });
    const r = await site.round('DHCP INFORM, ciaddr never answers ARP', { kind: 'inform', count, perMs: 4 }, {
      note: (r) => ({ dropped: unresolved(r) }),
    });
    expectServed(r, count);
    expect(r.delta('lanboot_dhcp_requests_total{type="inform"}')).toBeGreaterThanOrEqual(count * 0.95);
    expect(unresolved(r)).toBeGreaterThan(count / 2);
  }, 60_000);

  it('REQUESTs with RFC 3396 hostnames and client identifiers of 1,200 bytes: hostnames stored cut to 255, such client-ids refused', async () => {
    const count = 6000; // half renewals of leases the flood's MACs hold, half client-ids
    await site.restart(); // a journal of the full pool alone
    const before = site.journalSize();
    const r = await site.round('DHCP REQUEST, 1,200-byte hostname / client-id', { kind: 'request-huge', count, perMs: 1, owners: OWNERS, bigBytes: 1200 }, {
      note: (r) => ({ acked: r.delta('lanboot_dhcp_replies_total{type="ack"}') - 2, dropped: drops(r, 'client_id_too_long') }),
    });
    expectServed(r, count);
    expect(drops(r, 'client_id_too_long')).toBeGreaterThanOrEqual((count / 2) * 0.95);
    // The renewals were answered, each one on disk first: with the hostname as sent, ~1.3 KB a record.
    const acks = r.delta('lanboot_dhcp_replies_total{type="ack"}');
    expect(acks).toBeGreaterThanOrEqual((count / 2) * 0.95);
    const grown = site.journalSize() - before;
    expect(grown / acks, `journal grew ${grown} bytes for ${acks} ACKs`).toBeLessThan(600);
    const hosts = OWNERS.flatMap((o) => journalRecords(site.journal, o.mac))
      .map((rec) => rec.host)
      .filter((h) => h !== undefined); // the leases written before the start have none
    expect(hosts.length).toBeGreaterThan(0);
    for (const h of hosts) expect(h).toBe('h'.repeat(255));
  }, 60_000);

  it("spoofed DISCOVER + DECLINE with the static host's MAC do not keep it off the network", async () => {
    const count = 6000; // 3,000 pairs
    const r = await site.round('DHCP DECLINE of the static host, spoofed', { kind: 'decline', count, perMs: 1, staticMac: STATIC_MAC, staticIp: STATIC_IP }, {
      note: (r) => ({ declines: r.delta('lanboot_dhcp_conflicts_total{source="decline"}') }),
    });
    expectServed(r, count); // the static host got its fixed address meanwhile
    expect(r.delta('lanboot_dhcp_requests_total{type="decline"}')).toBeGreaterThanOrEqual((count / 2) * 0.95);
    expect(r.delta('lanboot_dhcp_conflicts_total{source="decline"}')).toBeGreaterThanOrEqual((count / 2) * 0.95);
  }, 60_000);
});
