/**
 * An HTTP connection hog against `lanboot start` with every service on
 * (fixtures/site.ts): 1,000 connections that never send a request, held,
 * against the default http.max_connections (512). The connections beyond the
 * cap are closed at once and counted; DHCP, TFTP and RPL clients are served
 * meanwhile (the hog cannot take their descriptors), and a script is served
 * again once the hog lets go.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Site, expectServed } from './fixtures/site.js';

const site = new Site();
beforeAll(() => site.open(), 60_000);
afterAll(() => site.close());

describe('HTTP floods', () => {
  it('1,000 idle connections: the ones beyond http.max_connections are closed and counted, the other services are served', async () => {
    const count = 1000;
    const r = await site.round('HTTP connection hog', { kind: 'http-hog', count, perMs: 1, holdMs: 6000 }, {
      canaryAfterMs: 1500, // once every connection is open
      note: (r) => ({ refused: r.delta('lanboot_http_refused_connections_total'), held: Number(r.flood.open) - Number(r.flood.closed) }),
    });
    // One host holding every connection keeps every other HTTP client out until it lets go (or idles 30 s).
    expectServed(r, count, { unserved: { http: 'the hog holds all http.max_connections' } });
    expect(Number(r.flood.open)).toBe(count);
    expect(Number(r.flood.open) - Number(r.flood.closed)).toBeLessThanOrEqual(512);
    expect(r.delta('lanboot_http_refused_connections_total')).toBeGreaterThanOrEqual(count - 512);
    const after = await site.serve('http');
    expect(after.ok, `script after the hog: ${after.detail}`).toBe(true);
  }, 60_000);
});
