/**
 * The TFTP service: listens for RRQ/WRQ, decides (root confinement, policy
 * quirks from the boot plan, options), and hands each accepted request to a
 * transfer on its own ephemeral port. Holds no boot policy of its own: the
 * hooks answer "which quirks for this client", "is this path generated",
 * and "which MAC has this IP".
 */
import type { TransferView } from '../views.js';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { RemoteInfo } from 'node:dgram';
import type { Logger } from 'pino';
import type { TftpConfig } from '../config/types.js';
import type { GeneratedFile, TftpPolicy } from '../plan/types.js';
import type { Telemetry } from '../telemetry.js';
import {
  decode,
  TftpDecodeError,
  ERR_ACCESS,
  ERR_FILE_EXISTS,
  ERR_ILLEGAL_OP,
  ERR_NOT_FOUND,
  ERR_OPTION,
  ERR_UNDEFINED,
  type RequestPacket,
} from '../codec/tftp.js';
import { openUdp, PortAllocator, type TransferPort, type UdpSocket } from '../net/udp.js';
import { interfaceMtu } from '../net/interfaces.js';
import { EnginePorts, engineFlush, engineUnavailable } from './engine.js';
import { FileCache } from './cache.js';
import { ConfinementError, closeFd, isInside, realDir, sanitizeName } from './paths.js';
import { negotiate, BLKSIZE_MAX } from './options.js';
import { toNetascii } from './netascii.js';
import {
  errorPacket,
  NativeReadTransfer,
  ReadTransfer,
  WriteTransfer,
  type Outcome,
  type ReadSource,
  type TransferStats,
  type TransferTiming,
  type UploadTarget,
} from './transfer.js';

export interface TftpClient {
  address: string;
  port: number;
  mac?: string;
}

export interface TftpHooks {
  /** Per-client quirks (blksize cap, refused options); the plan resolves TftpQuirkRule. */
  policy(client: TftpClient): TftpPolicy;
  /** A file produced per client (e.g. the iPXE script); undefined = serve from disk. */
  generate?(path: string, client: TftpClient): Promise<GeneratedFile | undefined> | GeneratedFile | undefined;
  /** MAC holding a lease for this IP, for logs and policy. */
  macFor?(ip: string): string | undefined;
}

/** Defaults for the optional keys (cache sizes, upload cap). */
export const TFTP_DEFAULTS = {
  cache_bytes: 32 * 1024 * 1024,
  cache_file_max: 16 * 1024 * 1024,
  cache_file_max_native: 1024 * 1024,
  upload_max: 4 * 1024 * 1024 * 1024,
};
/** Lowest RTO: loopback RTTs are microseconds, but event-loop stalls are not. */
const RTO_MIN_MS = 50;
/** Largest window in bytes (windowsize × blksize) we grant; see negotiate(). */
const WINDOW_BYTES_MAX = 64 * 1024;
/** IPv4 + UDP + TFTP DATA header. */
const HEADER_OVERHEAD = 20 + 8 + 4;

type Active = ReadTransfer | NativeReadTransfer | WriteTransfer;

/** Data path for octet RRQs when tftp.engine is not set. */
export const TFTP_ENGINE_DEFAULT: 'native' | 'js' = 'native';

interface TransferMeta {
  op: 'RRQ' | 'WRQ';
  file: string;
  client: TftpClient;
  blksize: number;
  windowsize: number;
  mode: string;
}

export class TftpServer {
  readonly cache: FileCache;
  private sock: UdpSocket | undefined;
  private readonly ports: PortAllocator;
  private readonly enginePorts: EnginePorts;
  private engineWarned = false;
  private readonly transfers = new Map<string, { t?: Active; op: string; file: string; meta?: TransferMeta }>();
  private realRoot = '';
  private realUpload: string | undefined;
  private lastBusyLog = 0;
  private stopped = false;

  constructor(
    private config: TftpConfig,
    private readonly log: Logger,
    private readonly telemetry: Telemetry,
    private readonly hooks: TftpHooks,
  ) {
    // The native engine preads from the shared descriptor (page cache) at no
    // cost to the process: keep only small files in memory (RSS in a storm).
    const native = (config.engine ?? TFTP_ENGINE_DEFAULT) === 'native';
    this.cache = new FileCache(
      config.cache_bytes ?? TFTP_DEFAULTS.cache_bytes,
      config.cache_file_max ?? (native ? TFTP_DEFAULTS.cache_file_max_native : TFTP_DEFAULTS.cache_file_max),
    );
    this.ports = new PortAllocator(config.address, config.port_range);
    this.enginePorts = new EnginePorts(config.port_range);
    telemetry.gauge('lanboot_tftp_active_transfers', () => this.transfers.size);
    telemetry.gauge('lanboot_tftp_cache_bytes', () => this.cache.bytes);
  }

  /** Bind the listening socket. Resolves with the bound address (port 0 = any, for tests). */
  async start(): Promise<{ address: string; port: number }> {
    this.realRoot = realDir(this.config.root);
    if (this.config.upload_dir) this.realUpload = realDir(this.config.upload_dir);
    this.sock = await openUdp(this.config.address, this.config.port);
    try {
      // A boot storm is hundreds of RRQs at once; don't let the kernel drop them.
      this.sock.setRecvBufferSize(1 << 20);
    } catch {
      /* capped by net.core.rmem_max */
    }
    this.sock.on('message', (msg, rinfo) => this.onRequest(msg, rinfo));
    this.sock.on('error', (err) => this.log.error({ event: 'tftp.socket_error', err: err.message }, 'tftp socket error'));
    const a = this.sock.address();
    this.log.info(
      { event: 'tftp.listen', address: a.address, port: a.port, root: this.realRoot, uploads: this.realUpload ?? null },
      'tftp listening',
    );
    return { address: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const e of this.transfers.values()) e.t?.finish('aborted', 'server stopping');
    this.transfers.clear();
    const s = this.sock;
    this.sock = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  get active(): number {
    return this.transfers.size;
  }

  /**
   * Apply a reloaded config to new requests (limits, options, quirks, root,
   * uploads). Address, port and port range need a restart.
   */
  setConfig(next: TftpConfig): void {
    const realRoot = realDir(next.root);
    const realUpload = next.upload_dir ? realDir(next.upload_dir) : undefined;
    this.config = { ...next, address: this.config.address, port: this.config.port, port_range: this.config.port_range };
    this.realRoot = realRoot;
    this.realUpload = realUpload;
  }

  /** Running transfers, for the status page. */
  transferViews(): TransferView[] {
    const out = [];
    for (const [key, e] of this.transfers) {
      if (!e.t || !e.meta) continue;
      const st = e.t.stats();
      out.push({
        id: key,
        mac: e.meta.client.mac,
        peer: key,
        file: e.meta.file,
        bytes: st.bytes,
        size: e.t.size,
        blksize: e.meta.blksize,
        windowsize: e.meta.windowsize,
        started: e.t.startedAt,
        retransmits: st.retransmissions,
        direction: e.meta.op === 'RRQ' ? ('read' as const) : ('write' as const),
      });
    }
    return out;
  }

  private drop(reason: string, rinfo: RemoteInfo, detail?: string): void {
    this.telemetry.count('lanboot_tftp_dropped_total', { reason });
    if (this.log.isLevelEnabled('debug'))
      this.log.debug({ event: 'tftp.drop', reason, client: rinfo.address, port: rinfo.port, detail }, 'dropped');
  }

  private refuse(rinfo: RemoteInfo, code: number, message: string, reason: string, mac?: string, file?: string): void {
    this.telemetry.count('lanboot_tftp_refused_total', { reason });
    this.sock?.send(errorPacket(code, message), rinfo.port, rinfo.address);
    this.log.info({ event: 'tftp.refused', mac, client: rinfo.address, file, reason, code }, message);
  }

  private onRequest(msg: Buffer, rinfo: RemoteInfo, recheck = false): void {
    if (this.stopped) return;
    if (recheck) engineFlush();
    let p;
    try {
      p = decode(msg);
    } catch (e) {
      if (e instanceof TftpDecodeError) return this.drop(`decode-${e.reason}`, rinfo, e.message);
      return this.drop('decode', rinfo);
    }
    if (p.op !== 'RRQ' && p.op !== 'WRQ') return this.drop('not-request', rinfo);
    const key = `${rinfo.address}:${rinfo.port}`;
    const existing = this.transfers.get(key);
    if (existing) {
      if (existing.op === p.op && existing.file === p.filename) {
        // The native engine ends transfers on its own thread: a client that ended one (the UEFI
        // size probe's error 8) and asks again from the same port can be heard before that end
        // is. Look once more shortly; still running then = a retransmitted request, which the
        // running transfer answers by itself.
        if (!recheck) {
          setTimeout(() => this.onRequest(msg, rinfo, true), 2);
          return;
        }
        return this.drop('duplicate-request', rinfo);
      }
      existing.t?.finish('aborted', 'replaced by a new request');
      this.transfers.delete(key);
    }
    this.telemetry.count('lanboot_tftp_requests_total', { op: p.op });
    if (this.transfers.size >= this.config.max_transfers) {
      this.telemetry.count('lanboot_tftp_refused_total', { reason: 'busy' });
      this.sock?.send(errorPacket(ERR_UNDEFINED, 'Server busy: too many transfers, retry later'), rinfo.port, rinfo.address);
      const now = Date.now();
      if (now - this.lastBusyLog > 1000) {
        this.lastBusyLog = now;
        this.log.warn(
          { event: 'tftp.busy', client: rinfo.address, max_transfers: this.config.max_transfers },
          'transfer limit reached; refusing requests',
        );
      }
      return;
    }
    const entry: { t?: Active; op: string; file: string; meta?: TransferMeta } = { op: p.op, file: p.filename };
    this.transfers.set(key, entry);
    const req = p;
    this.accept(req, rinfo, entry)
      .catch((e: Error) => {
        this.log.error({ event: 'tftp.internal', client: rinfo.address, err: e.message }, 'request failed');
        this.sock?.send(errorPacket(ERR_UNDEFINED, 'Internal error'), rinfo.port, rinfo.address);
      })
      .finally(() => {
        if (!entry.t && this.transfers.get(key) === entry) this.transfers.delete(key);
      });
  }

  private timing(clientTimeout?: number): TransferTiming {
    const initial = (clientTimeout ?? this.config.timeout) * 1000;
    return {
      retries: this.config.retries,
      rtoInitialMs: initial,
      rtoMinMs: Math.min(RTO_MIN_MS, initial),
      rtoMaxMs: Math.max(initial, 1000) * 4,
      giveUpMs: this.config.timeout * 1000 * this.config.retries,
    };
  }

  private async accept(p: RequestPacket, rinfo: RemoteInfo, entry: { t?: Active; meta?: TransferMeta }): Promise<void> {
    const mac = this.hooks.macFor?.(rinfo.address);
    const client: TftpClient = { address: rinfo.address, port: rinfo.port, mac };
    const mode = p.mode;
    if (mode !== 'octet' && mode !== 'netascii')
      return this.refuse(rinfo, ERR_ILLEGAL_OP, `Unsupported mode ${mode}`, 'mode', mac, p.filename);
    let policy: TftpPolicy;
    try {
      policy = this.hooks.policy(client);
    } catch (e) {
      this.log.warn({ event: 'tftp.policy_error', mac, err: (e as Error).message }, 'policy hook failed');
      policy = { refuseOptions: [] };
    }
    const mtuCap = interfaceMtu(rinfo.address, this.config.address) - HEADER_OVERHEAD;
    const blksizeMax = Math.min(this.config.blksize_max, policy.blksizeMax ?? BLKSIZE_MAX, mtuCap);
    const refuseOpts = policy.refuseOptions.map((o) => o.toLowerCase());
    if (p.op === 'WRQ') return this.acceptWrite(p, rinfo, client, blksizeMax, refuseOpts, entry);

    const root = this.realRoot;
    const name = sanitizeName(p.filename, root);
    if (!name.ok) return this.refuse(rinfo, ERR_ACCESS, 'Access violation', `path-${name.reason}`, mac, p.filename);
    const rel = name.rel;

    let src: ReadSource | undefined;
    let generated = false;
    if (this.hooks.generate) {
      const g = await this.hooks.generate(rel, client);
      if (g) {
        const body = typeof g.body === 'string' ? Buffer.from(g.body) : g.body;
        src = { size: body.length, data: body, release: () => undefined };
        generated = true;
        if (g.mac) client.mac = g.mac;
      }
    }
    if (!src) {
      try {
        src = await this.cache.acquire(root, rel);
      } catch (e) {
        if (e instanceof ConfinementError) {
          if (e.code === 'not-found') return this.refuse(rinfo, ERR_NOT_FOUND, 'File not found', 'not-found', mac, rel);
          return this.refuse(rinfo, ERR_ACCESS, 'Access violation', e.code, mac, rel);
        }
        throw e;
      }
    }
    if (mode === 'netascii') {
      if (!src.data) {
        src.release();
        return this.refuse(rinfo, ERR_UNDEFINED, 'netascii not supported for a file this large', 'netascii-size', mac, rel);
      }
      const conv = toNetascii(src.data);
      const orig = src;
      src = { size: conv.length, data: conv, release: () => orig.release() };
    }
    const neg = negotiate('RRQ', p.options, {
      blksizeMax,
      windowsizeMax: this.config.windowsize_max,
      windowBytesMax: WINDOW_BYTES_MAX,
      refuse: refuseOpts,
      tsize: src.size,
    });
    if (this.stopped) return src.release();
    if (mode === 'octet' && this.useNative()) {
      const meta: TransferMeta = { op: 'RRQ', file: rel, client, blksize: neg.blksize, windowsize: neg.windowsize, mode };
      const key = `${rinfo.address}:${rinfo.port}`;
      const nt: NativeReadTransfer = new NativeReadTransfer(
        this.enginePorts,
        this.config.address,
        { address: rinfo.address, port: rinfo.port },
        src,
        neg.blksize,
        neg.windowsize,
        neg.oack,
        this.timing(neg.timeout),
        (outcome, stats, detail) => this.finished(key, nt, meta, outcome, stats, detail, generated),
      );
      nt.probeCandidate = neg.tsizeAsked;
      try {
        nt.start();
      } catch (e) {
        src.release();
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES')
          return this.refuse(rinfo, ERR_UNDEFINED, 'No free transfer port', 'no-port', mac, rel);
        throw e;
      }
      entry.t = nt;
      entry.meta = meta;
      return;
    }
    let sock: TransferPort;
    try {
      sock = await this.ports.open();
    } catch (e) {
      src.release();
      return this.refuse(rinfo, ERR_UNDEFINED, 'No free transfer port', 'no-port', mac, rel);
    }
    const meta: TransferMeta = {
      op: 'RRQ',
      file: rel,
      client,
      blksize: neg.blksize,
      windowsize: neg.windowsize,
      mode,
    };
    const key = `${rinfo.address}:${rinfo.port}`;
    const t = new ReadTransfer(
      sock,
      { address: rinfo.address, port: rinfo.port },
      src,
      neg.blksize,
      neg.windowsize,
      neg.oack,
      this.timing(neg.timeout),
      (outcome, stats, detail) => this.finished(key, t, meta, outcome, stats, detail, generated),
    );
    t.probeCandidate = neg.tsizeAsked;
    entry.t = t;
    entry.meta = meta;
    if (this.stopped) return t.finish('aborted');
    t.start();
  }

  /** tftp.engine (default native), falling back to JS once, loudly, if the addon is missing. */
  private useNative(): boolean {
    if ((this.config.engine ?? TFTP_ENGINE_DEFAULT) !== 'native') return false;
    const why = engineUnavailable();
    if (why === undefined) return true;
    if (!this.engineWarned) {
      this.engineWarned = true;
      this.log.warn({ event: 'tftp.engine_unavailable', err: why }, 'native TFTP engine unavailable; using the JS data path');
    }
    return false;
  }

  private async acceptWrite(
    p: RequestPacket,
    rinfo: RemoteInfo,
    client: TftpClient,
    blksizeMax: number,
    refuseOpts: string[],
    entry: { t?: Active; meta?: TransferMeta },
  ): Promise<void> {
    const mac = client.mac;
    const dir = this.realUpload;
    if (!dir) return this.refuse(rinfo, ERR_ACCESS, 'Uploads are disabled', 'write-disabled', mac, p.filename);
    const name = sanitizeName(p.filename, dir);
    if (!name.ok) return this.refuse(rinfo, ERR_ACCESS, 'Access violation', `path-${name.reason}`, mac, p.filename);
    const rel = name.rel;
    const target = path.join(dir, rel);
    const parent = path.dirname(target);
    let realParent: string;
    try {
      realParent = await fs.promises.realpath(parent);
    } catch {
      return this.refuse(rinfo, ERR_NOT_FOUND, 'Directory not found', 'upload-dir-missing', mac, rel);
    }
    if (!isInside(dir, realParent))
      return this.refuse(rinfo, ERR_ACCESS, 'Access violation', 'upload-outside', mac, rel);
    const finalPath = path.join(realParent, path.basename(target));
    const overwrite = this.config.upload_overwrite;
    try {
      const st = await fs.promises.lstat(finalPath);
      if (!overwrite) return this.refuse(rinfo, ERR_FILE_EXISTS, 'File already exists', 'exists', mac, rel);
      if (!st.isFile()) return this.refuse(rinfo, ERR_ACCESS, 'Access violation', 'not-file', mac, rel);
    } catch {
      /* absent: fine */
    }
    const maxBytes = this.config.upload_max ?? TFTP_DEFAULTS.upload_max;
    const neg = negotiate('WRQ', p.options, {
      blksizeMax,
      windowsizeMax: this.config.windowsize_max,
      refuse: refuseOpts,
      maxUpload: maxBytes,
    });
    if (neg.refuse) return this.refuse(rinfo, ERR_OPTION, 'Upload too large', 'too-large', mac, rel);
    const tmpPath = path.join(realParent, `.${path.basename(target)}.lanboot-${crypto.randomBytes(6).toString('hex')}`);
    let fd: number;
    try {
      fd = fs.openSync(
        tmpPath,
        fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
        0o644,
      );
    } catch (e) {
      return this.refuse(rinfo, ERR_ACCESS, 'Cannot create file', 'create-failed', mac, rel);
    }
    let discarded = false;
    const upload: UploadTarget = {
      tmpPath,
      fd,
      commit: async () => {
        try {
          if (overwrite) await fs.promises.rename(tmpPath, finalPath);
          else {
            // link() fails if the name appeared meanwhile: never overwrite.
            await fs.promises.link(tmpPath, finalPath);
            await fs.promises.unlink(tmpPath);
          }
        } catch (e) {
          const err = new Error(
            (e as NodeJS.ErrnoException).code === 'EEXIST' ? 'File already exists' : 'Cannot store file',
          ) as Error & { tftpCode?: number };
          err.tftpCode = (e as NodeJS.ErrnoException).code === 'EEXIST' ? ERR_FILE_EXISTS : ERR_UNDEFINED;
          throw err;
        } finally {
          discarded = true;
        }
      },
      discard: () => {
        if (discarded) {
          fs.unlink(tmpPath, () => undefined);
          return;
        }
        discarded = true;
        fs.unlink(tmpPath, () => undefined);
      },
    };
    let sock: TransferPort;
    try {
      sock = await this.ports.open();
    } catch {
      closeFd(fd);
      upload.discard();
      return this.refuse(rinfo, ERR_UNDEFINED, 'No free transfer port', 'no-port', mac, rel);
    }
    const meta: TransferMeta = { op: 'WRQ', file: rel, client, blksize: neg.blksize, windowsize: neg.windowsize, mode: p.mode };
    const key = `${rinfo.address}:${rinfo.port}`;
    const t = new WriteTransfer(
      sock,
      { address: rinfo.address, port: rinfo.port },
      upload,
      neg.blksize,
      neg.windowsize,
      neg.oack,
      p.mode === 'netascii',
      maxBytes,
      this.timing(neg.timeout),
      (outcome, stats, detail) => this.finished(key, t, meta, outcome, stats, detail, false),
    );
    entry.t = t;
    entry.meta = meta;
    if (this.stopped) return t.finish('aborted');
    t.start();
  }

  private finished(
    key: string,
    t: Active,
    meta: TransferMeta,
    outcome: Outcome,
    stats: TransferStats,
    detail: string | undefined,
    generated: boolean,
  ): void {
    const e = this.transfers.get(key);
    if (e && e.t === t) this.transfers.delete(key);
    const tel = this.telemetry;
    tel.count('lanboot_tftp_transfers_total', { op: meta.op, outcome });
    if (stats.retransmissions) tel.count('lanboot_tftp_retransmissions_total', {}, stats.retransmissions);
    if (stats.bytes) tel.count(meta.op === 'RRQ' ? 'lanboot_tftp_sent_bytes_total' : 'lanboot_tftp_received_bytes_total', {}, stats.bytes);
    if (t.strangers) tel.count('lanboot_tftp_dropped_total', { reason: 'unknown-tid' }, t.strangers);
    if (t.malformed) tel.count('lanboot_tftp_dropped_total', { reason: 'malformed-in-transfer' }, t.malformed);
    const fields = {
      svc: 'tftp' as const,
      mac: meta.client.mac,
      client: meta.client.address,
      op: meta.op,
      file: meta.file,
      generated: generated || undefined,
      mode: meta.mode === 'octet' ? undefined : meta.mode,
      outcome,
      bytes: stats.bytes,
      blksize: meta.blksize,
      windowsize: meta.windowsize,
      duration_ms: Math.round(stats.durationMs * 10) / 10,
      retransmissions: stats.retransmissions,
      rtt_ms: Math.round(stats.rttMs * 1000) / 1000,
      detail,
    };
    if (outcome === 'probe' || outcome === 'aborted') {
      // The UEFI size probe (OACK, then error 8) is routine: debug only.
      if (this.log.isLevelEnabled('debug')) this.log.debug({ event: 'tftp.probe', ...fields }, 'transfer ended early');
      return;
    }
    tel.bootEvent(this.log, { event: outcome === 'ok' ? 'tftp.done' : 'tftp.failed', ...fields });
  }
}
