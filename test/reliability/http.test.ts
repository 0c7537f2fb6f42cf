/**
 * An HTTP connection hog against `lanboot start` with every service on
 * (fixtures/site.ts): 1,000 connections from one host that never send a
 * request, held. Beyond http.max_connections_per_client (32) they are closed
 * at once and counted, so every other client, HTTP included, is served
 * meanwhile (the descriptor cap behind http.max_connections is tested in
 * test/http/fdcap.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Site, expectServed } from './fixtures/site.js';

const site = new Site();
beforeAll(() => site.open(), 60_000);
afterAll(() => site.close());

describe('HTTP floods', () => {
  it('1,000 idle connections from one host: the ones beyond its share are closed and counted, every other client is served', async () => {
    const count = 1000;
    const r = await site.round('HTTP connection hog', { kind: 'http-hog', count, perMs: 1, holdMs: 6000 }, {
      canaryAfterMs: 1500, // once every connection is open
      note: (r) => ({ refused: r.sum('lanboot_http_refused_connections_total'), held: Number(r.flood.open) - Number(r.flood.closed) }),
    });
    expectServed(r, count);
    expect(Number(r.flood.open)).toBe(count);
    expect(Number(r.flood.open) - Number(r.flood.closed)).toBeLessThanOrEqual(32);
    expect(r.sum('lanboot_http_refused_connections_total', { reason: 'per-client' })).toBeGreaterThanOrEqual(count - 32);
    const after = await site.serve('http');
    expect(after.ok, `script after the hog: ${after.detail}`).toBe(true);
  }, 60_000);
});
