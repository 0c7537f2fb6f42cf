/**
 * The HTTP service iPXE talks to after chaining: generated boot scripts (asked
 * of the plan through hooks.file, so no policy lives here), static files from
 * http.root streamed with single-range support (iPXE's sanboot of an ISO and
 * large initrds use Range), and the per-host reset hook.
 *
 * Every request ends in exactly one log line carrying `mac` when it is known
 * (from the URL, the generated file, or the lease table via hooks.macFor), so
 * `lanboot trace MAC` sees the HTTP part of a boot next to DHCP and TFTP.
 */
import { createReadStream, type Stats } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { limitLogs } from '../log-limit.js';
import type { GeneratedFile } from '../plan/types.js';
import type { Telemetry } from '../telemetry.js';
import { runReset, type ResetResult } from '../hooks/reset.js';
import { closeFd, ConfinementError, contentTypeOf, openConfined, realRoot, sanitizePath } from './files.js';
import { connectionCap, nofileLimit, openFdCount } from './fds.js';
import { parseRange } from './range.js';
import { isMac, normalizeMac } from '../net/address.js';

export interface HttpClient {
  /** Peer address (IPv4-mapped prefix stripped). */
  address: string;
  /** MAC if known from the URL or the lease table. */
  mac?: string;
  /** Our address on the connection: the {server} the client used. */
  serverAddress?: string;
  /** The Host header, as the client sent it. */
  host?: string;
}

export interface HttpHooks {
  /** A file generated per client (boot scripts); undefined = serve from http.root. */
  file(path: string, client: HttpClient): GeneratedFile | undefined | Promise<GeneratedFile | undefined>;
  /** MAC holding a lease (or fixed address) for an IP, for logs. */
  macFor?(ip: string): string | undefined;
  /** The host's address (lease or fixed): a reset is accepted only from it. */
  ipFor?(mac: string): string | undefined;
  /** Whether `token` (from the reset URL of the host's script) was issued to `mac` at `address`; without this hook no reset is accepted. */
  checkResetToken?(mac: string, address: string, token: string): boolean;
  /** The host's reset argv with templates expanded; undefined = no host or no reset configured. */
  resetArgv?(mac: string): { argv: string[]; name?: string } | undefined;
}

export interface HttpServerOptions {
  /** Reset command timeout (ms). */
  resetTimeoutMs?: number;
  /** File descriptors to leave for the other services (TFTP transfers, DHCP): HTTP never holds them. */
  fdReserve?: number;
  /** RLIMIT_NOFILE to budget against (tests); default: read from /proc/self/limits. */
  fdLimit?: number;
}

/** Default http.max_connections_per_client. */
export const HTTP_MAX_CONNECTIONS_PER_CLIENT = 32;
/** Default http.max_connections. */
export const HTTP_MAX_CONNECTIONS = 512;
/** A connection with no traffic either way for this long is closed (one that never sends a request would hold its slot forever). */
const IDLE_TIMEOUT_MS = 30_000;

/** A Host header naming an IPv4 address (what scripts' reset URLs carry), with an optional port. */
export const IP_HOST_RE = /^\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?$/;

export class HttpServer {
  private server?: Server;
  private root?: string;
  /** Last ranged read per "client path", to log a ranged download once. */
  private readonly ranges = new Map<string, number>();
  /** Open connections per client address (http.max_connections_per_client). */
  private readonly perClient = new Map<string, number>();

  private readonly log: Logger;

  constructor(
    private readonly config: Omit<HttpConfig, 'max_connections' | 'max_connections_per_client'> & { max_connections?: number; max_connections_per_client?: number },
    log: Logger,
    private readonly telemetry: Telemetry,
    private readonly hooks: HttpHooks,
    private readonly opts: HttpServerOptions = {},
  ) {
    this.log = limitLogs(log); // a client can make requests fail as fast as it likes
  }

  /** Listen on http.address:http.port (port 0 = any, for tests). */
  async start(): Promise<{ address: string; port: number }> {
    this.setRoot(this.config.root);
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e) => this.fail(req, res, e));
    });
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 10_000;
    server.setTimeout(IDLE_TIMEOUT_MS); // no 'timeout' listener: Node destroys the socket
    // Beyond the cap Node accepts and at once closes a connection, so a client
    // opening thousands cannot take the descriptors TFTP needs for its transfers.
    const wanted = this.config.max_connections ?? HTTP_MAX_CONNECTIONS;
    const limit = this.opts.fdLimit ?? nofileLimit();
    const reserve = this.opts.fdReserve ?? 0;
    server.maxConnections = connectionCap(wanted, limit, openFdCount() ?? 0, reserve);
    if (server.maxConnections < wanted) {
      this.log.warn(
        { event: 'http.max_connections', wanted, cap: server.maxConnections, nofile: limit, reserve },
        `HTTP connections capped at ${server.maxConnections}: the descriptor limit (${limit}) keeps ${reserve} for TFTP and DHCP; raise LimitNOFILE to allow http.max_connections`,
      );
    }
    server.on('drop', () => this.telemetry.count('lanboot_http_refused_connections_total', { reason: 'max' }));
    // One address may hold only its share: a hog must not shut every other client out until it lets go.
    const perClient = this.config.max_connections_per_client ?? HTTP_MAX_CONNECTIONS_PER_CLIENT;
    server.on('connection', (sock) => {
      const peer = sock.remoteAddress ?? '';
      const n = (this.perClient.get(peer) ?? 0) + 1;
      if (n > perClient) {
        this.telemetry.count('lanboot_http_refused_connections_total', { reason: 'per-client' });
        this.log.warn({ event: 'http.client_busy', client: stripV4Mapped(peer), max_connections_per_client: perClient }, 'one client holds too many connections; closing the new one');
        sock.destroy();
        return;
      }
      this.perClient.set(peer, n);
      sock.once('close', () => {
        const left = (this.perClient.get(peer) ?? 1) - 1;
        if (left > 0) this.perClient.set(peer, left);
        else this.perClient.delete(peer);
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.config.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    this.log.info({ event: 'http.listen', address: a.address, port: a.port, root: this.root, max_connections: server.maxConnections }, 'HTTP service listening');
    return { address: a.address, port: a.port };
  }

  /** Serve static files from `root` (start, config reload); downloads in flight keep their open file. */
  setRoot(root: string): void {
    try {
      this.root = realRoot(root);
    } catch (e) {
      this.root = undefined;
      // Scripts still work without a static root; say so once.
      this.log.warn({ event: 'http.root', root, err: (e as Error).message }, 'http.root unusable; serving generated files only');
    }
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = Date.now();
    const client: HttpClient = {
      address: stripV4Mapped(req.socket.remoteAddress ?? ''),
      serverAddress: stripV4Mapped(req.socket.localAddress ?? '') || undefined,
      host: req.headers.host,
    };
    const method = req.method ?? 'GET';
    const rawPath = (req.url ?? '/').split('?')[0]!;
    let path: string;
    try {
      path = decodeURIComponent(rawPath); // iPXE sends the MAC's colons as %3A
    } catch {
      return this.done(req, res, client, t0, { status: 400, kind: 'bad-request', body: 'bad URL encoding\n' });
    }
    client.mac = this.hooks.macFor?.(client.address);

    const reset = /^\/reset\/([^/]+)$/.exec(path);
    if (reset) return this.reset(req, res, client, t0, reset[1]!, rawPath);

    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return this.done(req, res, client, t0, { status: 405, kind: 'bad-request', body: 'method not allowed\n' });
    }

    const rel = path.replace(/^\/+/, '');
    const gen = await this.hooks.file(rel, client);
    if (gen) {
      if (gen.mac) client.mac = gen.mac;
      const body = typeof gen.body === 'string' ? Buffer.from(gen.body, 'utf8') : gen.body;
      res.setHeader('Content-Type', gen.contentType);
      res.setHeader('Cache-Control', 'no-store'); // per-host and may change with the config
      return this.done(req, res, client, t0, { status: 200, kind: 'script', body, path: rel });
    }
    return this.staticFile(req, res, client, t0, rel);
  }

  private async staticFile(req: IncomingMessage, res: ServerResponse, client: HttpClient, t0: number, rel: string): Promise<void> {
    const clean = sanitizePath(rel);
    if (!clean.ok) return this.done(req, res, client, t0, { status: clean.reason === 'empty' ? 404 : 403, kind: 'denied', body: 'not found\n', path: rel, reason: clean.reason });
    if (!this.root) return this.done(req, res, client, t0, { status: 404, kind: 'missing', body: 'not found\n', path: rel });
    let fd: number;
    let stat: Stats;
    try {
      ({ fd, stat } = await openConfined(this.root, clean.rel));
    } catch (e) {
      if (e instanceof ConfinementError) {
        const status = e.code === 'access' ? 403 : 404;
        return this.done(req, res, client, t0, { status, kind: status === 403 ? 'denied' : 'missing', body: 'not found\n', path: clean.rel, reason: e.code });
      }
      throw e;
    }
    const size = stat.size;
    const etag = `"${stat.ino.toString(16)}-${size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Type', contentTypeOf(clean.rel));
    res.setHeader('Last-Modified', stat.mtime.toUTCString());
    res.setHeader('ETag', etag);

    let start = 0;
    let end = size - 1;
    let status = 200;
    const rangeHeader = req.headers.range;
    const ifRange = req.headers['if-range'];
    // If-Range (RFC 9110 13.1.5): a stale validator means "send it all".
    const rangeApplies = rangeHeader !== undefined && (ifRange === undefined || ifRange === etag || ifRange === stat.mtime.toUTCString());
    if (rangeApplies) {
      const r = parseRange(rangeHeader!, size);
      if (r === 'unsatisfiable') {
        closeFd(fd);
        res.setHeader('Content-Range', `bytes */${size}`);
        return this.done(req, res, client, t0, { status: 416, kind: 'file', body: '', path: clean.rel, reason: 'range' });
      }
      if (r) {
        ({ start, end } = r);
        status = 206;
        res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
      }
    }
    const length = size === 0 ? 0 : end - start + 1;
    res.statusCode = status;
    res.setHeader('Content-Length', length);
    if (req.method === 'HEAD' || length === 0) {
      closeFd(fd);
      res.end();
      return this.logged(req, res, client, t0, { kind: 'file', path: clean.rel, bytes: 0, size, range: status === 206 ? `${start}-${end}` : undefined });
    }
    let sent = 0;
    const stream = createReadStream('', { fd, start, end, autoClose: true, highWaterMark: 256 * 1024 });
    stream.on('data', (c) => {
      sent += (c as Buffer).length;
    });
    stream.on('error', (e) => {
      this.telemetry.count('lanboot_http_errors_total', { kind: 'read' });
      this.log.warn({ event: 'http.error', mac: client.mac, path: clean.rel, err: e.message }, 'read failed');
      res.destroy(e);
    });
    res.on('close', () => {
      stream.destroy();
      this.logged(req, res, client, t0, {
        kind: 'file',
        path: clean.rel,
        bytes: sent,
        size,
        range: status === 206 ? `${start}-${end}` : undefined,
        aborted: res.writableFinished ? undefined : true,
      });
    });
    stream.pipe(res);
  }

  private async reset(req: IncomingMessage, res: ServerResponse, client: HttpClient, t0: number, macPart: string, rawPath: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'POST') {
      res.setHeader('Allow', 'GET, POST');
      return this.done(req, res, client, t0, { status: 405, kind: 'reset', body: 'method not allowed\n', path: rawPath });
    }
    // iPXE can only GET (chain http://.../reset/<mac>?token=...). Either way, drain the body.
    req.resume();
    const ipxe = method === 'GET';
    if (!isMac(macPart)) return this.done(req, res, client, t0, { status: 404, kind: 'reset', body: answer(ipxe, 'not a MAC address'), path: rawPath, reason: 'bad-mac' });
    const mac = normalizeMac(macPart);
    client.mac = mac;
    // The answer never says who would be allowed; the log line says why not.
    const refuse = (reason: string) => this.done(req, res, client, t0, { status: 403, kind: 'reset', body: answer(ipxe, 'reset refused'), path: rawPath, reason });
    // iPXE sends none of these; a browser does (a page on any site, or a
    // DNS-rebound name that reads the script and then asks for the reset).
    const site = req.headers['sec-fetch-site'];
    if (req.headers.origin !== undefined || req.headers.referer !== undefined || (site !== undefined && site !== 'none')) return refuse('cross-site');
    if (client.host !== undefined && !IP_HOST_RE.test(client.host)) return refuse('host-name');
    const token = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('token');
    if (!token) return refuse('no-token');
    // The token names the address its script went to; the host must still hold it.
    const hostIp = this.hooks.ipFor?.(mac);
    if (hostIp === undefined || hostIp !== client.address) return refuse('not-host-address');
    if (!this.hooks.checkResetToken?.(mac, client.address, token)) return refuse('bad-token');
    let job: { argv: string[]; name?: string } | undefined;
    try {
      job = this.hooks.resetArgv?.(mac);
    } catch (e) {
      return this.done(req, res, client, t0, { status: 500, kind: 'reset', body: answer(ipxe, `reset command: ${(e as Error).message}`), path: rawPath, reason: 'template' });
    }
    if (!job) return this.done(req, res, client, t0, { status: 404, kind: 'reset', body: answer(ipxe, `no reset command configured for ${mac}`), path: rawPath, reason: 'no-reset' });
    req.socket.setTimeout(0); // the hook may run longer than the idle timeout; the answer waits for it
    const r: ResetResult = await runReset(mac, job.argv, {
      via: 'http',
      name: job.name,
      timeoutMs: this.opts.resetTimeoutMs,
      log: this.log,
      telemetry: this.telemetry,
    });
    const status = r.ok ? 200 : r.error?.startsWith('busy') ? 409 : 500;
    const who = job.name ?? mac;
    const msg = r.ok ? `reset of ${who} done` : `reset of ${who} failed: ${r.error ?? `exit ${r.code ?? r.signal}`}`;
    let body: string;
    if (ipxe) {
      body = answer(true, msg);
    } else {
      res.setHeader('Content-Type', 'application/json');
      body = JSON.stringify({ mac, name: job.name, ok: r.ok, code: r.code, signal: r.signal, timedOut: r.timedOut, ms: r.durationMs, stdout: r.stdout, stderr: r.stderr, error: r.error }) + '\n';
    }
    return this.done(req, res, client, t0, { status, kind: 'reset', body, path: rawPath, quiet: true });
  }

  private done(
    req: IncomingMessage,
    res: ServerResponse,
    client: HttpClient,
    t0: number,
    o: { status: number; kind: string; body: string | Buffer; path?: string; reason?: string; quiet?: boolean },
  ): void {
    const body = typeof o.body === 'string' ? Buffer.from(o.body, 'utf8') : o.body;
    res.statusCode = o.status;
    if (!res.hasHeader('Content-Type')) res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', body.length);
    res.end(req.method === 'HEAD' ? undefined : body);
    this.logged(req, res, client, t0, { kind: o.kind, path: o.path, bytes: req.method === 'HEAD' ? 0 : body.length, reason: o.reason, quiet: o.quiet });
  }

  /** The one log line per request (a boot event for scripts and files). */
  private logged(
    req: IncomingMessage,
    res: ServerResponse,
    client: HttpClient,
    t0: number,
    o: { kind: string; path?: string; bytes: number; size?: number; range?: string; reason?: string; aborted?: boolean; quiet?: boolean },
  ): void {
    const status = res.statusCode;
    this.telemetry.count('lanboot_http_requests_total', { kind: o.kind, status });
    if (o.bytes > 0) this.telemetry.count('lanboot_http_bytes_total', { kind: o.kind }, o.bytes);
    if (o.quiet) return; // the reset hook logged its own line
    const fields = {
      mac: client.mac,
      client: client.address,
      method: req.method,
      path: o.path ?? req.url,
      status,
      bytes: o.bytes,
      size: o.size,
      range: o.range,
      reason: o.reason,
      aborted: o.aborted,
      ms: Date.now() - t0,
    };
    if (o.kind === 'script' && status === 200) {
      this.telemetry.bootEvent(this.log, { svc: 'http', event: 'http.script', stage: 'script', ...fields }, 'boot script');
    } else if (o.kind === 'file' && status === 206 && this.seenRange(client.address, o.path ?? '')) {
      // iPXE's sanboot of an image reads it as thousands of ranges (not in
      // order: the El Torito probe comes first): one boot event for the
      // first per client and file, the rest at debug; bytes are still counted.
      this.log.debug({ event: 'http.range', ...fields }, 'range');
    } else if (o.kind === 'file' && (status === 200 || status === 206)) {
      this.telemetry.bootEvent(this.log, { svc: 'http', event: o.aborted ? 'http.aborted' : 'http.file', stage: 'file', ...fields }, 'file');
    } else {
      this.log[status >= 500 ? 'warn' : 'info']({ event: 'http.request', ...fields }, `HTTP ${status}`);
    }
  }

  /** True if this client read ranges of this file in the last minute (and note it now). */
  private seenRange(address: string, path: string): boolean {
    const key = `${address} ${path}`;
    const now = Date.now();
    const last = this.ranges.get(key);
    this.ranges.delete(key); // re-insert: the Map's order is the eviction order
    this.ranges.set(key, now);
    if (this.ranges.size > 4096) this.ranges.delete(this.ranges.keys().next().value!);
    return last !== undefined && now - last < 60_000;
  }

  private fail(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    this.log.error({ event: 'http.error', method: req.method, path: req.url, err: (e as Error)?.message }, 'request failed');
    this.telemetry.count('lanboot_http_requests_total', { kind: 'error', status: 500 });
    if (!res.headersSent) {
      res.statusCode = 500;
      res.end('internal error\n');
    } else res.destroy();
  }
}

/** iPXE runs what it GETs: answer with a script that prints the outcome (an error status makes `chain` fail). */
function answer(ipxe: boolean, msg: string): string {
  return ipxe ? `#!ipxe\necho lanboot: ${msg.replace(/[\r\n]+/g, ' ')}\n` : `${msg}\n`;
}

function stripV4Mapped(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}
