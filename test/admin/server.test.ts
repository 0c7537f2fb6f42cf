import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { Telemetry } from '../../src/telemetry.js';
import { silent } from '../../src/log.js';
import { AdminServer, TimelineStore, type LeaseView, type TransferView, type RplLoadView } from '../../src/admin/server.js';

const MAC = '52:54:00:12:34:56';
let server: AdminServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function start(extra: Partial<ConstructorParameters<typeof AdminServer>[1]> = {}, opts = {}) {
  const telemetry = new Telemetry();
  server = new AdminServer({ address: '127.0.0.1', port: 0 }, { telemetry, ...extra }, { log: silent, ...opts });
  const a = await server.start();
  return { telemetry, base: `http://127.0.0.1:${a.port}` };
}

describe('TimelineStore', () => {
  it('follows one machine through the PXE chain and says where it stopped', () => {
    const t = new TimelineStore();
    const t0 = 1_000_000;
    t.add({ time: t0, svc: 'dhcp', event: 'dhcp.offer', mac: MAC, stage: 'pxe' });
    t.add({ time: t0 + 10, svc: 'dhcp', event: 'dhcp.ack', mac: MAC, stage: 'pxe', yiaddr: '10.0.0.5' });
    t.add({ time: t0 + 200, svc: 'tftp', event: 'tftp.done', mac: MAC, file: 'undionly.kpxe' });
    const v = t.add({ time: t0 + 900, svc: 'dhcp', event: 'dhcp.ack', mac: MAC, stage: 'ipxe' }, t0 + 60_000)!;
    expect(v.current).toBe('ipxe');
    expect(Object.keys(v.stages).sort()).toEqual(['ipxe', 'pxe', 'tftp']);
    expect(v.ip).toBe('10.0.0.5');
    expect(v.idleMs).toBe(60_000 - 900);
    expect(v.error).toBeUndefined();
  });

  it('marks a failure at its stage and clears it when the machine gets further', () => {
    const t = new TimelineStore();
    t.add({ time: 1, svc: 'dhcp', event: 'dhcp.ack', mac: MAC, stage: 'pxe' });
    let v = t.add({ time: 2, svc: 'tftp', event: 'tftp.error', mac: MAC, error: 'file not found' })!;
    expect(v.error).toMatchObject({ stage: 'tftp', event: 'tftp.error', detail: 'file not found' });
    v = t.add({ time: 3, svc: 'tftp', event: 'tftp.done', mac: MAC })!;
    expect(v.error).toBeUndefined();
  });

  it('counts a return to PXE DHCP after later stages as a new attempt (boot loop signal)', () => {
    const t = new TimelineStore();
    for (let i = 0; i < 3; i++) {
      t.add({ time: i * 100, svc: 'dhcp', event: 'dhcp.ack', mac: MAC, stage: 'pxe' });
      t.add({ time: i * 100 + 10, svc: 'tftp', event: 'tftp.done', mac: MAC });
      t.add({ time: i * 100 + 20, svc: 'dhcp', event: 'dhcp.ack', mac: MAC, stage: 'ipxe' });
    }
    const v = t.get(MAC, 1000)!;
    expect(v.attempts).toBe(3);
    expect(v.recentAttempts).toBe(3);
    expect(Object.keys(v.stages).sort()).toEqual(['ipxe', 'pxe', 'tftp']);
  });

  it('RPL path, plain DHCP from strangers ignored, OS-up from known machines', () => {
    const t = new TimelineStore();
    expect(t.add({ time: 1, svc: 'dhcp', event: 'dhcp.ack', mac: '02:00:00:00:00:99', stage: 'plain' })).toBeUndefined();
    t.add({ time: 1, svc: 'rpl', event: 'rpl.load', mac: MAC, stage: 'rpl' });
    t.add({ time: 2, svc: 'dhcp', event: 'dhcp.ack', mac: MAC, stage: 'ipxe' });
    const v = t.add({ time: 3, svc: 'dhcp', event: 'dhcp.ack', mac: MAC, stage: 'plain' })!;
    expect(v.path).toBe('rpl');
    expect(v.osUp).toBe(3);
    expect(t.size).toBe(1);
  });

  it('is bounded: events per MAC and MACs overall, least recently active dropped first', () => {
    const t = new TimelineStore({ maxMacs: 3, maxEvents: 5 });
    for (let i = 0; i < 20; i++) t.add({ time: i, svc: 'dhcp', event: 'dhcp.offer', mac: MAC, stage: 'pxe' });
    expect(t.get(MAC)!.events).toHaveLength(5);
    expect(t.get(MAC)!.stages.pxe!.count).toBe(20);
    for (let i = 0; i < 5; i++) t.add({ time: 100 + i, svc: 'dhcp', event: 'dhcp.offer', mac: `02:00:00:00:00:0${i}`, stage: 'pxe' });
    expect(t.size).toBe(3);
    expect(t.get(MAC)).toBeUndefined();
    expect(t.list().map((m) => m.mac)).toEqual(['02:00:00:00:00:04', '02:00:00:00:00:03', '02:00:00:00:00:02']);
  });
});

describe('AdminServer', () => {
  it('serves the status page with no external references', async () => {
    const { base } = await start();
    const r = await fetch(base + '/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    const html = await r.text();
    expect(html).toContain('EventSource("events")');
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
  });

  it('JSON API: leases with expiry, transfers and RPL loads with progress, machines from telemetry', async () => {
    const now = Date.now();
    const leases: LeaseView[] = [
      { mac: '02:00:00:00:00:02', ip: '10.0.0.20', state: 'bound', expires: now + 3_600_000, subnet: '10.0.0.0/24' },
      { mac: '02:00:00:00:00:01', ip: '10.0.0.3', state: 'offered', expires: now + 30_000, hostname: 'pc03' },
    ];
    const transfers: TransferView[] = [{ id: 'a', peer: '10.0.0.3:2070', file: 'undionly.kpxe', bytes: 25_000, size: 100_000, started: now - 1000, blksize: 1468 }];
    const loads: RplLoadView[] = [{ mac: MAC, bytes: 1000, size: 4000, started: now - 500, file: 'ipxe.pxe' }];
    const { base, telemetry } = await start({ leases: () => leases, transfers: () => transfers, rplLoads: () => loads });
    telemetry.bootEvent(undefined, { svc: 'dhcp', event: 'dhcp.offer', mac: MAC, stage: 'pxe' });

    const l = (await (await fetch(base + '/api/leases')).json()) as { leases: Array<LeaseView & { expiresIn: number }> };
    expect(l.leases.map((x) => x.ip)).toEqual(['10.0.0.3', '10.0.0.20']); // numeric order
    expect(l.leases[1]!.expiresIn).toBeGreaterThan(3590);
    expect(l.leases[1]!.expiresIn).toBeLessThanOrEqual(3600);

    const t = (await (await fetch(base + '/api/transfers')).json()) as { transfers: Array<{ progress: number; rate: number }> };
    expect(t.transfers[0]!.progress).toBe(0.25);
    expect(t.transfers[0]!.rate).toBeGreaterThan(0);
    const rp = (await (await fetch(base + '/api/rpl')).json()) as { loads: Array<{ progress: number }> };
    expect(rp.loads[0]!.progress).toBe(0.25);

    const m = (await (await fetch(base + '/api/machines')).json()) as { machines: Array<{ mac: string; current: string }> };
    expect(m.machines).toMatchObject([{ mac: MAC, current: 'pxe' }]);
    const one = await fetch(base + '/api/machines/' + MAC.replace(/:/g, '-'));
    expect(one.status).toBe(200);
    expect((await fetch(base + '/api/machines/02:00:00:00:00:77')).status).toBe(404);
    expect((await fetch(base + '/nope')).status).toBe(404);
    expect((await fetch(base + '/api/leases', { method: 'POST' })).status).toBe(405);
  });

  it('a throwing provider does not break the API or the scrape', async () => {
    const { base } = await start({
      leases: () => {
        throw new Error('boom');
      },
    });
    expect(await (await fetch(base + '/api/leases')).json()).toMatchObject({ leases: [] });
    expect((await fetch(base + '/metrics')).status).toBe(200);
  });

  it('/metrics is Prometheus text: counters with labels, gauges, pool usage', async () => {
    const { base, telemetry } = await start({
      pools: () => [{ subnet: '10.0.0.0/24', size: 100, used: 25 }],
      transfers: () => [{ id: 'x', peer: 'p', file: 'f', bytes: 512, started: Date.now() }],
    });
    telemetry.count('lanboot_dhcp_requests_total', { type: 'discover' }, 3);
    telemetry.count('lanboot_dhcp_dropped_total', { reason: 'malformed "x"\n' });
    telemetry.gauge('lanboot_dhcp_leases_bound', () => 7);
    const r = await fetch(base + '/metrics');
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    expect(text).toContain('# TYPE lanboot_dhcp_requests_total counter');
    expect(text).toContain('lanboot_dhcp_requests_total{type="discover"} 3');
    expect(text).toContain('lanboot_dhcp_dropped_total{reason="malformed \\"x\\"\\n"} 1');
    expect(text).toContain('lanboot_dhcp_leases_bound 7');
    expect(text).toContain('lanboot_dhcp_pool_usage_ratio{subnet="10.0.0.0/24"} 0.25');
    expect(text).toContain('lanboot_tftp_transfers_active 1');
    // Every sample line belongs to a family announced with TYPE before it.
    const typed = new Set<string>();
    for (const line of text.trim().split('\n')) {
      const m = /^# TYPE (\S+) (counter|gauge)$/.exec(line);
      if (m) typed.add(m[1]!);
      else if (!line.startsWith('#')) expect(typed.has(line.split(/[{ ]/)[0]!), line).toBe(true);
    }
  });

  it('SSE: a snapshot on connect, then machine updates as boot events arrive', async () => {
    const { base, telemetry } = await start({}, { progressIntervalMs: 50 });
    const url = new URL(base + '/events');
    const got: Array<{ event: string; data: any }> = [];
    const req = request({ host: url.hostname, port: url.port, path: '/events' });
    const done = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        expect(res.headers['content-type']).toMatch(/text\/event-stream/);
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (ev && data) got.push({ event: ev, data: JSON.parse(data) });
            if (ev === 'snapshot') telemetry.bootEvent(undefined, { svc: 'http', event: 'http.script', mac: MAC, stage: 'script' });
            if (ev === 'machines') {
              req.destroy();
              resolve();
            }
          }
        });
      });
      req.on('error', (e) => (e.message.includes('aborted') || e.message.includes('socket hang up') ? resolve() : reject(e)));
      setTimeout(() => reject(new Error('no SSE machine update within 5 s')), 5000).unref();
    });
    req.end();
    await done;
    expect(got[0]!.event).toBe('snapshot');
    expect(got[0]!.data.status.stages.map((s: { key: string }) => s.key)).toEqual(['rpl', 'pxe', 'tftp', 'ipxe', 'script', 'os']);
    const upd = got.find((g) => g.event === 'machines')!;
    expect(upd.data.machines[0]).toMatchObject({ mac: MAC, current: 'script' });
  });

  it('binds where it is told (loopback by default in the schema) and stops cleanly', async () => {
    const { base } = await start();
    expect(server!.address()!.address).toBe('127.0.0.1');
    await server!.stop();
    await expect(fetch(base + '/healthz')).rejects.toThrow();
  });
});

describe('admin client', () => {
  it('fetches leases from a running instance and says clearly when none answers', async () => {
    const { fetchLeases, AdminUnreachable } = await import('../../src/admin/client.js');
    const leases: LeaseView[] = [{ mac: MAC, ip: '10.0.0.5', state: 'bound', expires: Date.now() + 1000 }];
    await start({ leases: () => leases });
    const port = server!.address()!.port;
    expect((await fetchLeases({ address: '0.0.0.0', port })).map((l) => l.ip)).toEqual(['10.0.0.5']);
    await server!.stop();
    await expect(fetchLeases({ address: '127.0.0.1', port })).rejects.toBeInstanceOf(AdminUnreachable);
  });
});
