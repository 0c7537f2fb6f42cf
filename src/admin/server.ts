/**
 * The admin HTTP server: status page (one static HTML file, live over SSE),
 * JSON API and Prometheus /metrics. Bound to admin.address (loopback by
 * default): it has no authentication, so it must not face the LAN unless the
 * operator says so.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { AdminConfig } from '../config/types.js';
import type { BootEvent } from '../telemetry.js';
import { parseIpv4, tryNormalizeMac } from '../net/address.js';
import { logger, type Logger } from '../log.js';
import { renderMetrics, METRICS_CONTENT_TYPE } from './metrics.js';
import { STAGES, TimelineStore, type MachineView } from './timeline.js';
import type { AdminProviders, LeaseView, RplLoadView, TransferView } from './views.js';

export type { AdminProviders, LeaseView, RplLoadView, TransferView, PoolView } from './views.js';
export { TimelineStore, STAGES, stageOf, type MachineView, type StageKey } from './timeline.js';

export interface AdminServerOptions {
  log?: Logger;
  /** Share a store (e.g. one that outlives reloads); default: a new one. */
  timeline?: TimelineStore;
  /** Most SSE clients at once. */
  maxClients?: number;
  /** How often progress (transfers, RPL loads) is pushed to SSE clients, ms. */
  progressIntervalMs?: number;
}

const PAGE_CANDIDATES = [
  new URL('./status.html', import.meta.url), // src/admin (tsx, tests)
  new URL('../../../src/admin/status.html', import.meta.url), // dist/src/admin -> src/admin
];

function loadPage(): string {
  for (const u of PAGE_CANDIDATES) {
    try {
      return readFileSync(u, 'utf8');
    } catch {
      /* next */
    }
  }
  return '<!doctype html><title>lanboot</title><p>status.html not found; the JSON API is at /api/machines.';
}

interface SseClient {
  res: ServerResponse;
}

export class AdminServer {
  readonly timeline: TimelineStore;
  private providers: AdminProviders;
  private readonly log: Logger;
  private server?: Server;
  private readonly clients = new Set<SseClient>();
  private readonly page: string;
  private readonly startedAt = Date.now();
  private readonly dirty = new Set<string>();
  private flushTimer?: NodeJS.Timeout;
  private progressTimer?: NodeJS.Timeout;
  private tick = 0;
  private readonly maxClients: number;
  private readonly progressIntervalMs: number;
  private readonly onEvent = (ev: BootEvent) => {
    const v = this.timeline.add(ev);
    if (v && this.clients.size > 0) {
      this.dirty.add(v.mac);
      this.flushTimer ??= setTimeout(() => this.flush(), 100);
    }
  };

  constructor(
    private readonly cfg: AdminConfig,
    providers: AdminProviders,
    opts: AdminServerOptions = {},
  ) {
    this.providers = providers;
    this.log = opts.log ?? logger('admin');
    this.timeline = opts.timeline ?? new TimelineStore();
    this.maxClients = opts.maxClients ?? 32;
    this.progressIntervalMs = opts.progressIntervalMs ?? 1000;
    this.page = loadPage();
    providers.telemetry.on('event', this.onEvent);
  }

  /** Swap data sources (after a reload re-created a service). Telemetry may change too. */
  setProviders(p: Partial<AdminProviders>): void {
    if (p.telemetry && p.telemetry !== this.providers.telemetry) {
      this.providers.telemetry.off('event', this.onEvent);
      p.telemetry.on('event', this.onEvent);
    }
    this.providers = { ...this.providers, ...p };
  }

  async start(): Promise<AddressInfo> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 5000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.cfg.port, this.cfg.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.log.error({ event: 'admin.error', err: e.message }, 'admin server error'));
    this.progressTimer = setInterval(() => this.pushProgress(), this.progressIntervalMs);
    this.progressTimer.unref();
    const a = server.address() as AddressInfo;
    this.log.info({ event: 'admin.listen', address: a.address, port: a.port }, `status page on http://${a.address}:${a.port}/`);
    return a;
  }

  address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  async stop(): Promise<void> {
    this.providers.telemetry.off('event', this.onEvent);
    clearInterval(this.progressTimer);
    clearTimeout(this.flushTimer);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  // ---- data ----------------------------------------------------------------

  private read<T>(f: (() => T[]) | undefined): T[] {
    if (!f) return [];
    try {
      return f();
    } catch (e) {
      this.log.warn({ event: 'admin.provider_error', err: (e as Error).message }, 'a status provider failed');
      return [];
    }
  }

  leases(now = Date.now()): Array<LeaseView & { expiresIn?: number }> {
    return this.read(this.providers.leases?.bind(this.providers))
      .map((l) => ({ ...l, expiresIn: l.expires === undefined ? undefined : Math.round((l.expires - now) / 1000) }))
      .sort((a, b) => ipNum(a.ip) - ipNum(b.ip));
  }

  transfers(now = Date.now()): Array<TransferView & { progress?: number; rate: number }> {
    return this.read(this.providers.transfers?.bind(this.providers)).map((t) => ({
      ...t,
      progress: t.size ? Math.min(1, t.bytes / t.size) : undefined,
      rate: Math.round(t.bytes / Math.max(0.001, (now - t.started) / 1000)),
    }));
  }

  rplLoads(now = Date.now()): Array<RplLoadView & { progress: number; rate: number }> {
    return this.read(this.providers.rplLoads?.bind(this.providers)).map((r) => ({
      ...r,
      progress: r.size > 0 ? Math.min(1, r.bytes / r.size) : 0,
      rate: Math.round(r.bytes / Math.max(0.001, (now - r.started) / 1000)),
    }));
  }

  /** Machine views with the configured host name filled in. */
  machines(now = Date.now()): MachineView[] {
    return this.timeline.list(now).map((v) => this.named(v));
  }

  machine(mac: string, now = Date.now()): MachineView | undefined {
    const v = this.timeline.get(mac, now);
    return v && this.named(v);
  }

  private named(v: MachineView): MachineView {
    let name: string | undefined;
    try {
      name = this.providers.hostName?.(v.mac);
    } catch {
      name = undefined;
    }
    return name ? { ...v, name } : v;
  }

  status(now = Date.now()) {
    return {
      now,
      startedAt: this.startedAt,
      uptime: Math.round((now - this.startedAt) / 1000),
      stages: STAGES,
      machines: this.timeline.size,
      sources: {
        leases: !!this.providers.leases,
        transfers: !!this.providers.transfers,
        rpl: !!this.providers.rplLoads,
      },
    };
  }

  // ---- HTTP -----------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      this.route(req, res);
    } catch (e) {
      this.log.error({ event: 'admin.error', err: (e as Error).message, url: req.url }, 'admin request failed');
      if (!res.headersSent) this.json(res, 500, { error: 'internal error' });
      else res.end();
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const now = Date.now();
    switch (path) {
      case '/':
      case '/index.html':
        res.writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          'Cache-Control': 'no-store',
          'X-Content-Type-Options': 'nosniff',
          // Everything is inline; nothing may load from elsewhere.
          'Content-Security-Policy':
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
        });
        res.end(req.method === 'HEAD' ? undefined : this.page);
        return;
      case '/events':
        this.sse(req, res);
        return;
      case '/metrics':
        res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : renderMetrics(this.providers, this.startedAt, now));
        return;
      case '/healthz':
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
        return;
      case '/api/status':
        return this.json(res, 200, this.status(now));
      case '/api/leases':
        return this.json(res, 200, { now, leases: this.leases(now) });
      case '/api/transfers':
        return this.json(res, 200, { now, transfers: this.transfers(now) });
      case '/api/rpl':
        return this.json(res, 200, { now, loads: this.rplLoads(now) });
      case '/api/machines':
        return this.json(res, 200, { now, stages: STAGES, machines: this.machines(now) });
    }
    const m = /^\/api\/machines\/([0-9a-fA-F:-]{17})$/.exec(path);
    if (m) {
      const mac = tryNormalizeMac(m[1]!);
      const v = mac && this.machine(mac, now);
      return v ? this.json(res, 200, v) : this.json(res, 404, { error: 'no boot events for this MAC' });
    }
    this.json(res, 404, {
      error: 'not found',
      paths: ['/', '/events', '/metrics', '/api/status', '/api/leases', '/api/transfers', '/api/rpl', '/api/machines', '/api/machines/MAC'],
    });
  }

  private json(res: ServerResponse, code: number, body: unknown): void {
    const s = JSON.stringify(body);
    res.writeHead(code, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Length': Buffer.byteLength(s),
    });
    res.end(s);
  }

  // ---- server-sent events --------------------------------------------------------

  private sse(req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= this.maxClients) {
      res.writeHead(503, { 'Retry-After': '5', 'Content-Type': 'text/plain' }).end('too many status clients\n');
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    const c: SseClient = { res };
    this.clients.add(c);
    req.socket.setNoDelay(true);
    const now = Date.now();
    res.write('retry: 2000\n\n');
    this.send(c, 'snapshot', {
      status: this.status(now),
      machines: this.machines(now),
      leases: this.leases(now),
      transfers: this.transfers(now),
      loads: this.rplLoads(now),
    });
    const drop = () => this.clients.delete(c);
    req.on('close', drop);
    res.on('error', drop);
  }

  private send(c: SseClient, event: string, data: unknown): void {
    // A client that stopped reading must not make us buffer without bound.
    if (c.res.writableLength > 1 << 20) {
      this.clients.delete(c);
      c.res.destroy();
      return;
    }
    c.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private broadcast(event: string, data: unknown): void {
    for (const c of this.clients) this.send(c, event, data);
  }

  /** Boot events are coalesced per MAC so a burst of clients cannot flood the page. */
  private flush(): void {
    this.flushTimer = undefined;
    const now = Date.now();
    const macs = [...this.dirty].slice(0, 200);
    for (const m of macs) this.dirty.delete(m);
    const views = macs.map((m) => this.machine(m, now)).filter((v): v is MachineView => !!v);
    if (views.length) this.broadcast('machines', { now, machines: views });
    if (this.dirty.size) this.flushTimer = setTimeout(() => this.flush(), 100);
  }

  private pushProgress(): void {
    if (this.clients.size === 0) return;
    const now = Date.now();
    this.tick++;
    this.broadcast('progress', { now, transfers: this.transfers(now), loads: this.rplLoads(now) });
    if (this.tick % 5 === 0) this.broadcast('leases', { now, leases: this.leases(now) });
    if (this.tick % 15 === 0) for (const c of this.clients) c.res.write(': keepalive\n\n');
  }
}

function ipNum(ip: string): number {
  return Math.max(parseIpv4(ip), 0);
}
