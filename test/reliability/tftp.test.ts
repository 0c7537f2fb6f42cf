/**
 * TFTP floods against `lanboot start` with every service on (fixtures/site.ts),
 * each against a fresh server: fuzzed packets, requests from spoofed
 * sources whose errors go nowhere, netascii requests that never ACK, and one
 * host's requests with timeout 255 that never ACK. Meanwhile the real clients
 * (curl fetching a 6 MiB file byte-exact among them) must be served in their
 * usual timeouts; after each the server lives, its peak RSS is bounded, and
 * the counters say why the flood's packets were dropped or refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Site, expectServed, BIG_FILE, TEXT_FILE, type Round } from './fixtures/site.js';

const site = new Site();
beforeAll(() => site.open(), 60_000);
afterAll(() => site.close());

const ACTIVE = 'lanboot_tftp_transfers_active';

describe('TFTP floods', () => {
  it('fuzzed packets (test/tftp/fuzz-gen.ts) at port 69 are dropped or refused and counted', async () => {
    const count = 20_000;
    const dropped = (r: Round) => r.sum('lanboot_tftp_dropped_total');
    const r = await site.round('TFTP fuzzed packets', { kind: 'tftp-fuzz', count, perMs: 4, seed: 0x5eed, names: ['undionly.kpxe', 'missing', '../../etc/passwd', ''], holdMs: 500 }, {
      note: (r) => ({ dropped: dropped(r), refused: r.sum('lanboot_tftp_refused_total') }),
    });
    expectServed(r, count);
    expect(dropped(r)).toBeGreaterThan(count / 2);
    expect(r.sum('lanboot_tftp_dropped_total', { reason: /^decode-/ })).toBeGreaterThan(count / 4);
    expect(r.sum('lanboot_tftp_errors_total', { kind: 'internal' })).toBe(0);
  }, 60_000);

  it('requests from spoofed sources: the errors to addresses that never answer ARP are dropped unsent and counted', async () => {
    const count = 20_000;
    const unresolved = (r: Round) => r.sum('lanboot_udp_send_dropped_total', { service: 'tftp', reason: 'unresolved' });
    const r = await site.round('TFTP RRQ from spoofed sources (errors go nowhere)', { kind: 'tftp-spoof', count, perMs: 4, file: 'missing.bin' }, {
      note: (r) => ({ refused: r.delta('lanboot_tftp_refused_total{reason="not-found"}'), dropped: unresolved(r) }),
    });
    expectServed(r, count);
    expect(r.delta('lanboot_tftp_refused_total{reason="not-found"}')).toBeGreaterThanOrEqual(count * 0.95);
    expect(unresolved(r)).toBeGreaterThan(count / 2);
  }, 60_000);

  it('netascii requests that never ACK (from spoofed sources) cost no copy of the file each', async () => {
    const count = 300; // under tftp.max_transfers: the copies are what is measured, not the slots
    const r = await site.round('TFTP netascii RRQ never ACKed', { kind: 'tftp-spoof', count, perMs: 1, mode: 'netascii', files: [TEXT_FILE, BIG_FILE], holdMs: 3000 }, {
      note: (r) => ({ requests: r.delta('lanboot_tftp_requests_total{op="RRQ"}') - 1, refused: r.sum('lanboot_tftp_refused_total') }),
    });
    expectServed(r, count);
    expect(r.delta('lanboot_tftp_requests_total{op="RRQ"}')).toBeGreaterThanOrEqual(count * 0.95);
  }, 60_000);

  it('one host holding requests with timeout 255 that it never ACKs gets tftp.max_transfers_per_client slots, for a bounded time', async () => {
    const count = 1000; // tftp.max_transfers: before the per-client cap they took every slot for 98 minutes
    const perClient = 32; // tftp.max_transfers_per_client (default)
    const clientBusy = (r: Round) => r.delta('lanboot_tftp_refused_total{reason="client-busy"}');
    const r = await site.round('TFTP RRQ timeout=255 never ACKed, one host', {
      kind: 'tftp-hold', count, perMs: 1, file: BIG_FILE, options: [['timeout', '255'], ['blksize', '1468']], holdMs: 6000,
    }, {
      canaryAfterMs: 1500, // once every request is in
      note: (r) => ({ refused: clientBusy(r) }),
    });
    expectServed(r, count);
    expect(clientBusy(r)).toBeGreaterThanOrEqual((count - perClient) * 0.95);
    // The host's sockets are gone now: its transfers end at their next retransmission, which
    // tftp.timeout_max (5 s) keeps near; no_progress_timeout (30 s) would end them anyway.
    const freed = await site.until((m) => m.get(ACTIVE) === 0, 30_000);
    process.stdout.write(`reliability held transfers ended ${freed} ms after the flood\n`);
    expect(freed, 'held transfers still running 30 s after the flood').toBeDefined();
  }, 60_000);
});
