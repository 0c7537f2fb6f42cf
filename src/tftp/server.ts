/**
 * The TFTP service: listens for RRQ/WRQ, decides (request checks, the
 * client's quirks from the boot plan, options) and starts a transfer on its
 * own port. The rest lives beside it: what a read serves (./sources.ts),
 * where an upload goes (./uploads.ts), the running transfers and their log
 * lines (./transfers.ts), the transfers themselves (./read.ts: native engine;
 * ./transfer.ts: uploads). Holds no boot policy of its own: the hooks answer
 * "which quirks for this client", "is this path generated" and "which MAC
 * has this IP".
 */
import type { TransferView } from '../views.js';
import type { Logger } from 'pino';
import { limitLogs } from '../log-limit.js';
import type { TftpConfig } from '../config/types.js';
import type { GeneratedFile, TftpPolicy } from '../plan/types.js';
import type { Telemetry } from '../telemetry.js';
import { decode, TftpDecodeError, ERR_ILLEGAL_OP, ERR_OPTION, ERR_UNDEFINED, type RequestPacket } from '../codec/tftp.js';
import { openServerUdp, PortAllocator, type Received, type ServerUdp, type TransferPort } from '../net/udp.js';
import { interfaceMtu } from '../net/interfaces.js';
import { EnginePorts, engineFlush, engineUnavailable } from './engine.js';
import { FileCache } from './cache.js';
import { closeFd, realDir } from './paths.js';
import { negotiate, BLKSIZE_MAX } from './options.js';
import { ReadTransfer } from './read.js';
import { ReadSources, type Refusal } from './sources.js';
import { checkUpload, createUpload } from './uploads.js';
import { TransferTable, transferKey, type Entry, type TftpClient, type TransferMeta } from './transfers.js';
import { errorPacket, WriteTransfer, type TransferTiming } from './transfer.js';

export type { TftpClient } from './transfers.js';

export interface TftpHooks {
  /** Per-client quirks (blksize cap, refused options); the plan resolves TftpQuirkRule. */
  policy(client: TftpClient): TftpPolicy;
  /** A file produced per client (e.g. the iPXE script); undefined = serve from disk. */
  generate?(path: string, client: TftpClient): Promise<GeneratedFile | undefined> | GeneratedFile | undefined;
  /** MAC holding a lease for this IP, for logs and policy. */
  macFor?(ip: string): string | undefined;
}

/**
 * Defaults for the optional keys. The engine preads larger files from a
 * shared descriptor (page cache) at no cost to the process: keep only small
 * ones in memory (RSS in a storm).
 */
export const TFTP_DEFAULTS = {
  cache_bytes: 32 * 1024 * 1024,
  cache_file_max: 1024 * 1024,
  upload_max: 4 * 1024 * 1024 * 1024,
};
/** Lowest RTO: loopback RTTs are microseconds, but event-loop stalls are not. */
const RTO_MIN_MS = 50;
/** Largest window in bytes (windowsize × blksize) we grant; see negotiate(). */
const WINDOW_BYTES_MAX = 64 * 1024;
/** IPv4 + UDP + TFTP DATA header. */
const HEADER_OVERHEAD = 20 + 8 + 4;

/** A request past the common checks, with what may be negotiated for it. */
interface Accepted {
  p: RequestPacket;
  mode: 'octet' | 'netascii';
  rinfo: Received;
  client: TftpClient;
  blksizeMax: number;
  refuseOpts: string[];
  entry: Entry;
}

export class TftpServer {
  readonly cache: FileCache;
  /**
   * Native (IP_PKTINFO: each request's local address, which its transfer is
   * bound to) or, without the addon, dgram (the transfer binds to
   * tftp.address and its source follows the route). Error packets to
   * requesters (possibly spoofed sources) go through its bounded sender.
   */
  private sock: ServerUdp | undefined;
  private readonly ports: PortAllocator;
  private readonly enginePorts: EnginePorts;
  private readonly sources: ReadSources;
  private readonly transfers: TransferTable;
  private realRoot = '';
  private realUpload: string | undefined;
  private lastBusyLog = 0;
  private stopped = false;

  private readonly log: Logger;

  constructor(
    private config: TftpConfig,
    log: Logger,
    private readonly telemetry: Telemetry,
    private readonly hooks: TftpHooks,
    /** Tests: the listening socket on dgram, as when the addon is not built (net/udp openServerUdp). */
    private readonly dgram = false,
  ) {
    this.log = limitLogs(log); // warnings a flood of requests can trigger come once per event, not per packet
    this.cache = new FileCache(config.cache_bytes ?? TFTP_DEFAULTS.cache_bytes, config.cache_file_max ?? TFTP_DEFAULTS.cache_file_max);
    this.sources = new ReadSources(this.cache, hooks.generate && ((p, c) => hooks.generate!(p, c)));
    this.transfers = new TransferTable(this.log, telemetry);
    this.ports = new PortAllocator(config.address, config.port_range);
    this.enginePorts = new EnginePorts(config.port_range);
    telemetry.gauge('lanboot_tftp_cache_bytes', () => this.cache.bytes);
  }

  /** Bind the listening socket. Resolves with the bound address (port 0 = any, for tests). */
  async start(): Promise<{ address: string; port: number }> {
    // Every read runs in the native engine: without it, refuse to start rather than serve nothing.
    const why = engineUnavailable();
    if (why !== undefined) throw new Error(`TFTP needs its native engine: ${why}`);
    this.realRoot = realDir(this.config.root);
    if (this.config.upload_dir) this.realUpload = realDir(this.config.upload_dir);
    this.sock = await openServerUdp({
      address: this.config.address,
      port: this.config.port,
      // A boot storm is hundreds of RRQs at once; don't let the kernel drop them.
      rcvbuf: 1 << 20,
      onMessage: (msg, from) => this.onRequest(msg, from),
      onDropped: (reason, n) => this.telemetry.count('lanboot_tftp_dropped_total', { reason }, n),
      onError: (err, to) =>
        to === undefined
          ? this.log.error({ event: 'tftp.socket_error', err: err.message }, 'tftp socket error')
          : this.log.debug({ event: 'tftp.send_error', client: to, err: err.message }, 'send failed'),
      sender: { service: 'tftp', telemetry: this.telemetry, log: this.log },
      dgram: this.dgram,
    });
    const a = { address: this.config.address, port: this.sock.port };
    this.log.info(
      { event: 'tftp.listen', address: a.address, port: a.port, local_address: this.sock.native ? 'request' : 'route', root: this.realRoot, uploads: this.realUpload ?? null },
      'tftp listening',
    );
    return a;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.transfers.abortAll();
    const s = this.sock;
    this.sock = undefined;
    if (s) await s.close();
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
    return this.transfers.views();
  }

  // ------------------------------------------------------------ requests

  private drop(reason: string, rinfo: Received, detail?: string): void {
    this.telemetry.count('lanboot_tftp_dropped_total', { reason });
    if (this.log.isLevelEnabled('debug'))
      this.log.debug({ event: 'tftp.drop', reason, client: rinfo.address, port: rinfo.port, detail }, 'dropped');
  }

  /** An error to the requester, from the address it asked (native socket; else by route). */
  private sendTo(rinfo: Received, pkt: Buffer): void {
    this.sock?.out.send(pkt, rinfo.port, rinfo.address, undefined, rinfo.local);
  }

  /** The address a transfer answers from: the one the request was sent to (RFC 1350 TIDs are per address pair). */
  private localFor(rinfo: Received): string {
    return rinfo.local ?? this.config.address;
  }

  private refuse(rinfo: Received, code: number, message: string, reason: string, mac?: string, file?: string): void {
    this.telemetry.count('lanboot_tftp_refused_total', { reason });
    this.sendTo(rinfo, errorPacket(code, message));
    this.log.info({ event: 'tftp.refused', mac, client: rinfo.address, file, reason, code }, message);
  }

  private refuseWith(rinfo: Received, r: Refusal, mac?: string): void {
    this.refuse(rinfo, r.code, r.message, r.reason, mac, r.file);
  }

  private onRequest(msg: Buffer, rinfo: Received, recheck = false): void {
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
    const key = transferKey(rinfo.address, rinfo.port);
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
      this.transfers.replace(key);
    }
    this.telemetry.count('lanboot_tftp_requests_total', { op: p.op });
    if (this.transfers.size >= this.config.max_transfers) {
      this.telemetry.count('lanboot_tftp_refused_total', { reason: 'busy' });
      this.sendTo(rinfo, errorPacket(ERR_UNDEFINED, 'Server busy: too many transfers, retry later'));
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
    // One address with many transfers is not a booting machine (it runs one or two): it must
    // not take the slots of the rest. Refused like busy; the warning is rate-limited by limitLogs.
    const perClient = this.config.max_transfers_per_client;
    if (this.transfers.countFrom(rinfo.address) >= perClient) {
      this.telemetry.count('lanboot_tftp_refused_total', { reason: 'client-busy' });
      this.sendTo(rinfo, errorPacket(ERR_UNDEFINED, 'Too many transfers from this address, retry later'));
      this.log.warn(
        { event: 'tftp.client_busy', client: rinfo.address, max_transfers_per_client: perClient },
        'transfer limit for one client address reached; refusing its requests',
      );
      return;
    }
    const entry = this.transfers.reserve(key, rinfo.address, p.op, p.filename);
    this.accept(p, rinfo, entry)
      .catch((e: Error) => {
        this.telemetry.count('lanboot_tftp_errors_total', { kind: 'internal' });
        this.log.error({ event: 'tftp.internal', client: rinfo.address, err: e.message }, 'request failed');
        this.sendTo(rinfo, errorPacket(ERR_UNDEFINED, 'Internal error'));
      })
      .finally(() => this.transfers.release(key, entry));
  }

  private timing(clientTimeout?: number): TransferTiming {
    const initial = (clientTimeout ?? this.config.timeout) * 1000;
    return {
      retries: this.config.retries,
      rtoInitialMs: initial,
      rtoMinMs: Math.min(RTO_MIN_MS, initial),
      rtoMaxMs: Math.max(initial, 1000) * 4,
      giveUpMs: this.config.timeout * 1000 * this.config.retries,
      noProgressMs: this.config.no_progress_timeout * 1000,
    };
  }

  /** Mode, the client's quirks and the path MTU decide what may be negotiated; then read or write. */
  private async accept(p: RequestPacket, rinfo: Received, entry: Entry): Promise<void> {
    const mac = this.hooks.macFor?.(rinfo.address);
    const client: TftpClient = { address: rinfo.address, port: rinfo.port, mac };
    const mode = p.mode;
    if (mode !== 'octet' && mode !== 'netascii')
      return this.refuse(rinfo, ERR_ILLEGAL_OP, `Unsupported mode ${mode}`, 'mode', mac, p.filename);
    let policy: TftpPolicy;
    try {
      policy = this.hooks.policy(client);
    } catch (e) {
      this.telemetry.count('lanboot_tftp_errors_total', { kind: 'policy' });
      this.log.warn({ event: 'tftp.policy_error', mac, err: (e as Error).message }, 'policy hook failed');
      policy = { refuseOptions: [] };
    }
    const mtuCap = interfaceMtu(rinfo.address, this.localFor(rinfo)) - HEADER_OVERHEAD;
    const blksizeMax = Math.min(this.config.blksize_max, policy.blksizeMax ?? BLKSIZE_MAX, mtuCap);
    const refuseOpts = policy.refuseOptions.map((o) => o.toLowerCase());
    const req: Accepted = { p, mode, rinfo, client, blksizeMax, refuseOpts, entry };
    return p.op === 'WRQ' ? this.acceptWrite(req) : this.acceptRead(req);
  }

  private async acceptRead({ p, mode, rinfo, client, blksizeMax, refuseOpts, entry }: Accepted): Promise<void> {
    const r = await this.sources.resolve(this.realRoot, p.filename, mode, client);
    if (!r.ok) return this.refuseWith(rinfo, r.refusal, client.mac);
    const { src, rel } = r;
    if (r.mac) client.mac = r.mac;
    const neg = negotiate('RRQ', p.options, {
      blksizeMax,
      windowsizeMax: this.config.windowsize_max,
      timeoutMax: this.config.timeout_max,
      windowBytesMax: WINDOW_BYTES_MAX,
      refuse: refuseOpts,
      tsize: src.size,
    });
    if (this.stopped) return src.release();
    const meta: TransferMeta = { op: 'RRQ', file: rel, client, blksize: neg.blksize, windowsize: neg.windowsize, mode, generated: r.generated };
    const key = transferKey(rinfo.address, rinfo.port);
    const t: ReadTransfer = new ReadTransfer(
      this.enginePorts,
      this.localFor(rinfo),
      { address: rinfo.address, port: rinfo.port },
      src,
      neg.blksize,
      neg.windowsize,
      neg.oack,
      this.timing(neg.timeout),
      (outcome, stats, detail) => this.transfers.finished(key, t, meta, outcome, stats, detail),
    );
    t.probeCandidate = neg.tsizeAsked;
    try {
      t.start();
    } catch (e) {
      src.release();
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES') return this.refuse(rinfo, ERR_UNDEFINED, 'No free transfer port', 'no-port', client.mac, rel);
      throw e;
    }
    entry.t = t;
    entry.meta = meta;
  }

  private async acceptWrite({ p, rinfo, client, blksizeMax, refuseOpts, entry }: Accepted): Promise<void> {
    const mac = client.mac;
    const overwrite = this.config.upload_overwrite;
    const checked = await checkUpload(this.realUpload, p.filename, overwrite);
    if (!checked.ok) return this.refuseWith(rinfo, checked.refusal, mac);
    const maxBytes = this.config.upload_max ?? TFTP_DEFAULTS.upload_max;
    const neg = negotiate('WRQ', p.options, {
      blksizeMax,
      windowsizeMax: this.config.windowsize_max,
      timeoutMax: this.config.timeout_max,
      refuse: refuseOpts,
      maxUpload: maxBytes,
    });
    if (neg.refuse) return this.refuse(rinfo, ERR_OPTION, 'Upload too large', 'too-large', mac, checked.rel);
    const prepared = createUpload(checked.finalPath, checked.rel, overwrite);
    if (!prepared.ok) return this.refuseWith(rinfo, prepared.refusal, mac);
    const { target: upload, rel } = prepared;
    let sock: TransferPort;
    try {
      sock = await this.ports.open(this.localFor(rinfo));
    } catch {
      closeFd(upload.fd);
      upload.discard();
      return this.refuse(rinfo, ERR_UNDEFINED, 'No free transfer port', 'no-port', mac, rel);
    }
    const meta: TransferMeta = { op: 'WRQ', file: rel, client, blksize: neg.blksize, windowsize: neg.windowsize, mode: p.mode, generated: false };
    const key = transferKey(rinfo.address, rinfo.port);
    const t: WriteTransfer = new WriteTransfer(
      sock,
      { address: rinfo.address, port: rinfo.port },
      upload,
      neg.blksize,
      neg.windowsize,
      neg.oack,
      p.mode === 'netascii',
      maxBytes,
      this.timing(neg.timeout),
      (outcome, stats, detail) => this.transfers.finished(key, t, meta, outcome, stats, detail),
    );
    entry.t = t;
    entry.meta = meta;
    if (this.stopped) return t.finish('aborted');
    t.start();
  }
}
