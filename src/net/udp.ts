/**
 * UDP sockets for the services: listening sockets, transfer ports (dgram),
 * server sockets that receive and send in batches (native/lanboot_udp.c,
 * see openServerUdp), and sends bounded per destination (see BoundedSender).
 */
import dgram from 'node:dgram';
import { constants as osConstants } from 'node:os';
import type { Logger } from '../log.js';
import type { Telemetry } from '../telemetry.js';
import { loadNative } from '../native.js';
import { ipv4ToNumber, numberToIpv4 } from './address.js';
import { linkAddressKnown } from './interfaces.js';
import { setReceiveBuffer } from './packet.js';

export type UdpSocket = dgram.Socket;

/**
 * dgram resolves every destination through dns.lookup, which costs a
 * nextTick per datagram even for literals. Our peers are always IPv4
 * literals, so answer synchronously.
 */
function literalLookup(
  address: string,
  _opts: unknown,
  cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  cb(null, address, 4);
}

function bindOnce(address: string, port: number, reuseAddr = false): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: 'udp4', lookup: literalLookup as never, reuseAddr });
    const onError = (err: Error) => {
      sock.removeListener('listening', onListening);
      try {
        sock.close();
      } catch {
        /* already closed */
      }
      reject(err);
    };
    const onListening = () => {
      sock.removeListener('error', onError);
      resolve(sock);
    };
    sock.once('error', onError);
    sock.once('listening', onListening);
    sock.bind({ address, port, exclusive: true });
  });
}

/**
 * The file descriptor of a bound dgram socket, for socket options Node does
 * not offer (a BPF filter). Node keeps its handle under an internal symbol;
 * undefined when that is not there (another runtime, a later Node): callers
 * must work without it.
 */
export function socketFd(sock: UdpSocket): number | undefined {
  const state = Object.getOwnPropertySymbols(sock).find((s) => s.description === 'state symbol');
  const fd = state ? (sock as unknown as Record<symbol, { handle?: { fd?: unknown } }>)[state]?.handle?.fd : undefined;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Bind a UDP socket on address:port (port 0 = kernel's choice). */
export function openUdp(address: string, port: number): Promise<UdpSocket> {
  return bindOnce(address, port);
}

/**
 * A transfer's port: `sock` gets connected to the peer (the kernel then
 * caches the route and filters the peer's packets to it: cheaper per
 * datagram), `stray` shares the port unconnected and receives everything
 * else, so a wrong TID can still be answered with error 5.
 */
export interface TransferPort {
  sock: UdpSocket;
  stray: UdpSocket;
  port: number;
}

/** Round robin over a fixed port range [lo, hi] (NAT, containers). */
export class PortRange {
  private cursor: number;
  constructor(
    readonly lo: number,
    readonly hi: number,
  ) {
    this.cursor = lo;
  }

  /** Every port of the range once, starting after the last one handed out. */
  *ports(): Generator<number> {
    for (let i = 0; i <= this.hi - this.lo; i++) {
      const port = this.cursor;
      this.cursor = port >= this.hi ? this.lo : port + 1;
      yield port;
    }
  }

  /** The error for a range with no port left. */
  exhausted(): NodeJS.ErrnoException {
    return Object.assign(new Error(`no free port in ${this.lo}-${this.hi}`), { code: 'EADDRINUSE' });
  }
}

/** A bind refused because another socket holds the port (or it is privileged): try the next one. */
export function portTaken(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EADDRINUSE' || code === 'EACCES';
}

/**
 * Binds transfer ports, inside a fixed range (for NAT/containers) or
 * anywhere. Both sockets of a port use SO_REUSEADDR, which also lets the
 * kernel hand out a port another transfer of ours holds: such ports are
 * tracked here and skipped.
 */
export class PortAllocator {
  private readonly range?: PortRange;
  private readonly used = new Set<number>();
  constructor(
    private readonly address: string,
    range?: [number, number],
  ) {
    if (range) this.range = new PortRange(range[0], range[1]);
  }

  private async pair(address: string, port: number): Promise<TransferPort | undefined> {
    const sock = await bindOnce(address, port, true);
    const p = sock.address().port;
    if (this.used.has(p)) {
      sock.close();
      return undefined;
    }
    let stray: UdpSocket;
    try {
      stray = await bindOnce(address, p, true);
    } catch (e) {
      sock.close();
      throw e;
    }
    this.used.add(p);
    let open = 2;
    const release = () => {
      if (--open === 0) this.used.delete(p);
    };
    sock.once('close', release);
    stray.once('close', release);
    return { sock, stray, port: p };
  }

  /** `address`: the local address to bind (the one the request came to), else the allocator's. */
  async open(address = this.address): Promise<TransferPort> {
    if (!this.range) {
      for (let i = 0; i < 64; i++) {
        const t = await this.pair(address, 0);
        if (t) return t;
      }
      throw new Error('no free ephemeral port');
    }
    for (const port of this.range.ports()) {
      if (this.used.has(port)) continue;
      try {
        const t = await this.pair(address, port);
        if (t) return t;
      } catch (e) {
        if (!portTaken(e)) throw e;
      }
    }
    throw this.range.exhausted();
  }
}

// ---- server sockets ---------------------------------------------------------------

/** One received datagram's addresses. */
export interface Received {
  address: string;
  port: number;
  /** Our address it arrived on (IP_PKTINFO ipi_spec_dst: the interface's, for a broadcast); native sockets only. */
  local?: string;
  /** Interface it arrived on; native sockets only. */
  ifindex?: number;
}

export interface ServerUdpOptions {
  address: string;
  port: number;
  /** SO_RCVBUF(FORCE) bytes (the kernel doubles it). */
  rcvbuf: number;
  /** Datagrams that waited longer than this in the kernel are dropped unread (native only; 0: no limit). */
  maxAgeMs?: number;
  onMessage(buf: Buffer, from: Received): void;
  /** n datagrams dropped for their age (maxAgeMs) or for being longer than a receive slot. */
  onDropped?(reason: 'stale' | 'truncated', n: number): void;
  /** A datagram the kernel refused (no route...); on dgram also socket errors. */
  onError(err: NodeJS.ErrnoException, to?: string): void;
  /** Bounds of the socket's sends, see BoundedSender. */
  sender: BoundedSenderOptions;
  /** Tests: open the dgram socket even when the addon is there. */
  dgram?: boolean;
}

/** A server's listening socket: receives, and sends through `out`. */
export interface ServerUdp {
  /** True: native batched socket; false: dgram (the addon is not built). */
  readonly native: boolean;
  /** For socket options (a BPF filter); undefined when dgram hides it. */
  readonly fd: number | undefined;
  readonly port: number;
  readonly out: BoundedSender;
  close(): Promise<void>;
}

interface NativeUdpHandle {
  send(buf: Buffer, port: number, address: number, from: number): boolean;
  limits(total: number, perDestination: number): void;
  info(): { fd: number; port: number; queued: number; blocked: boolean };
  close(): void;
}

interface UdpAddon {
  UdpSocket: new (
    address: number,
    port: number,
    rcvbuf: number,
    maxAgeMs: number,
    meta: Uint32Array,
    onBatch: (buf: Buffer | null, count: number, stale: number, truncated: number) => void,
    onError: (errno: number, address: number, port: number) => void,
  ) => NativeUdpHandle;
  udpBatch: number;
  udpMeta: number;
}

let udpAddon: UdpAddon | undefined;
let udpAddonError: Error | undefined;

/** The native socket's addon, or why it cannot be had (not built: DHCP then runs on dgram, as before it existed). */
function loadUdpAddon(): UdpAddon | undefined {
  if (!udpAddon && !udpAddonError) {
    try {
      udpAddon = loadNative<UdpAddon>('lanboot_packet');
    } catch (e) {
      udpAddonError = e as Error;
    }
  }
  return udpAddon;
}

function errnoError(errno: number, what: string): NodeJS.ErrnoException {
  const code = Object.entries(osConstants.errno).find(([, v]) => v === errno)?.[0] ?? `E${errno}`;
  return Object.assign(new Error(`${what}: ${code}`), { code, errno: -errno });
}

/** The last number -> string conversion, for addresses that repeat from one datagram to the next. */
class AddressCache {
  private n = -1;
  private s = '';
  get(n: number): string {
    if (n !== this.n) {
      this.n = n;
      this.s = numberToIpv4(n);
    }
    return this.s;
  }
}

/**
 * The native socket (native/lanboot_udp.c): up to udpBatch datagrams per
 * wake-up in one JS call, each with the local address it arrived on; sends
 * queued and flushed with sendmmsg once per loop turn.
 */
export class NativeUdpSocket {
  readonly fd: number;
  readonly port: number;
  private handle?: NativeUdpHandle;

  constructor(opts: Omit<ServerUdpOptions, 'sender' | 'dgram'>, addon: UdpAddon) {
    // Per datagram: length, source address, source port, local address, ifindex.
    const meta = new Uint32Array(addon.udpBatch * addon.udpMeta);
    const stride = addon.udpMeta;
    const src = new AddressCache();
    const local = new AddressCache();
    const onBatch = (buf: Buffer | null, count: number, stale: number, truncated: number): void => {
      if (stale) opts.onDropped?.('stale', stale);
      if (truncated) opts.onDropped?.('truncated', truncated);
      let off = 0;
      for (let i = 0, m = 0; i < count; i++, m += stride) {
        const len = meta[m]!;
        const dg = buf!.subarray(off, off + len);
        off += len;
        opts.onMessage(dg, { address: src.get(meta[m + 1]!), port: meta[m + 2]!, local: local.get(meta[m + 3]!), ifindex: meta[m + 4]! });
      }
    };
    const onError = (errno: number, address: number, port: number): void => {
      const to = numberToIpv4(address);
      opts.onError(errnoError(errno, `send to ${to}:${port}`), to);
    };
    this.handle = new addon.UdpSocket(ipv4ToNumber(opts.address), opts.port, opts.rcvbuf, opts.maxAgeMs ?? 0, meta, onBatch, onError);
    const info = this.handle.info();
    this.fd = info.fd;
    this.port = info.port;
  }

  /** Queue for this loop turn's sendmmsg; false when the kernel is refusing and a limit is reached (dropped). */
  send(buf: Buffer, port: number, address: string, from?: string): boolean {
    if (!this.handle) throw errnoError(osConstants.errno.EBADF, 'socket is closed');
    return this.handle.send(buf, port, ipv4ToNumber(address), from ? ipv4ToNumber(from) : 0);
  }

  /** What may wait in user space while the kernel refuses: in all, and per destination address. */
  limits(total: number, perDestination: number): void {
    this.handle?.limits(total, perDestination);
  }

  /** Datagrams queued and whether they wait for the kernel (send buffer full). */
  queue(): { queued: number; blocked: boolean } {
    const i = this.handle?.info();
    return { queued: i?.queued ?? 0, blocked: i?.blocked ?? false };
  }

  /** What this loop turn queued is still sent; no callback runs after this. */
  close(): void {
    this.handle?.close();
    this.handle = undefined;
  }
}

/**
 * A server's listening socket: native (batched, IP_PKTINFO) when the addon
 * is built, else dgram as before the native socket existed (no local
 * address, no stale drop). No SO_REUSEADDR: a second server on the port is
 * an error (EADDRINUSE).
 */
export async function openServerUdp(opts: ServerUdpOptions): Promise<ServerUdp> {
  const addon = opts.dgram ? undefined : loadUdpAddon();
  if (addon) {
    const sock = new NativeUdpSocket(opts, addon);
    const out = new BoundedSender(sock, opts.sender);
    return {
      native: true,
      fd: sock.fd,
      port: sock.port,
      out,
      close: async () => sock.close(),
    };
  }
  const sock = await openUdp(opts.address, opts.port);
  sock.setBroadcast(true);
  sock.on('message', (buf, rinfo) => opts.onMessage(buf, { address: rinfo.address, port: rinfo.port }));
  sock.on('error', (e) => opts.onError(e));
  const fd = socketFd(sock);
  try {
    if (fd === undefined) throw new Error('no fd');
    setReceiveBuffer(fd, opts.rcvbuf);
  } catch {
    try {
      sock.setRecvBufferSize(opts.rcvbuf); // capped at net.core.rmem_max
    } catch {
      /* the kernel's default stays */
    }
  }
  return {
    native: false,
    fd,
    port: sock.address().port,
    out: new BoundedSender(sock, opts.sender),
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

// ---- bounded sends ----------------------------------------------------------------

export interface BoundedSenderOptions {
  /** Names the sender in the drop counter and log line (dhcp, tftp). */
  service: string;
  telemetry?: Telemetry;
  log?: Logger;
  /** Datagrams one destination may have waiting in user space when the kernel refuses more (default 4). */
  maxQueuedPerDestination?: number;
  /** Datagrams the socket may have waiting in user space in all (default 256). */
  maxQueued?: number;
  /** An on-link destination that has not answered ARP gets one datagram per this many ms (default 3000: Linux gives up resolving after 3 s)... */
  unresolvedWindowMs?: number;
  /** ...and at most this many such destinations get one per window (default 32). */
  maxUnresolved?: number;
  /** Whether a datagram to `address` leaves without waiting for ARP, from a view at most maxAgeMs old (default: net/interfaces linkAddressKnown). */
  linkAddressKnown?: (address: string, maxAgeMs?: number) => boolean;
}

export type DropReason = 'unresolved' | 'queue';

const DROP_LOG_EVERY_MS = 10_000;
/** Datagrams waiting for a fresh look at the neighbour table, and how long they wait (bounds the re-reads in a flood). */
const MAX_DEFERRED = 256;
const RECHECK_MS = 2;

interface Deferred {
  buf: Buffer;
  port: number;
  address: string;
  cb?: (err: Error | null) => void;
  from?: string;
}

/**
 * Sends on one UDP socket so that no destination can take memory or the
 * socket from the others. A datagram to an on-link address whose MAC is
 * unknown waits in the kernel's neighbour queue, charged to the socket's
 * send buffer, until ARP answers or fails (3 s); a flood of replies to
 * addresses that never answer (a spoofed INFORM ciaddr, relay giaddr or
 * source) fills the buffer, every later send on the socket gets EAGAIN and
 * libuv queues it in memory without limit. So: such a destination gets one
 * datagram per window (enough to start ARP; a real host answers), a bounded
 * number of them at once (beyond that, one that the neighbour table knows a
 * moment later still goes), and whatever the kernel still refuses waits in a
 * queue bounded per destination and in total. The rest is dropped, counted
 * (lanboot_udp_send_dropped_total) and logged at most every 10 s.
 *
 * On a NativeUdpSocket the queue and its bounds live in the addon (every
 * datagram waits there until the turn's sendmmsg; the bounds apply once the
 * kernel refuses, as here), `from` picks the source address, and send errors
 * go to the socket's onError instead of `cb`.
 */
export class BoundedSender {
  private readonly queuedPer = new Map<string, number>();
  private readonly probedAt = new Map<string, number>();
  private readonly deferred: Deferred[] = [];
  private recheckTimer?: NodeJS.Timeout;
  private windowStart = 0;
  private windowCount = 0;
  private dropsSinceLog = 0;
  private lastLog = 0;
  readonly dropped: Record<DropReason, number> = { unresolved: 0, queue: 0 };

  constructor(
    readonly sock: UdpSocket | NativeUdpSocket,
    private readonly opts: BoundedSenderOptions,
  ) {
    if (sock instanceof NativeUdpSocket) sock.limits(opts.maxQueued ?? 256, opts.maxQueuedPerDestination ?? 4);
  }

  /** Send, defer or drop; false when dropped (cb is then never called). `from`: source address (native socket only). */
  send(buf: Buffer, port: number, address: string, cb?: (err: Error | null) => void, from?: string): boolean {
    const known = this.opts.linkAddressKnown ?? linkAddressKnown;
    if (!known(address) && !this.admitUnresolved(address)) return this.defer({ buf, port, address, cb, from });
    return this.sendNow(buf, port, address, cb, from);
  }

  /**
   * The window's budget is spent and the last look at the neighbour table
   * did not know `address`. A real client ARPed for us before it asked (so
   * the kernel knows it from then on), possibly after that look: decide on a
   * look taken after this point, one for every datagram waiting by then.
   */
  private defer(d: Deferred): boolean {
    if (this.deferred.length >= MAX_DEFERRED) return this.drop('unresolved', d.address);
    this.deferred.push(d);
    if (!this.recheckTimer) {
      this.recheckTimer = setTimeout(() => this.recheck(), RECHECK_MS);
      this.recheckTimer.unref();
    }
    return true;
  }

  private recheck(): void {
    this.recheckTimer = undefined;
    const known = this.opts.linkAddressKnown ?? linkAddressKnown;
    for (const d of this.deferred.splice(0)) {
      if (!known(d.address, 0)) {
        this.drop('unresolved', d.address);
        continue;
      }
      try {
        this.sendNow(d.buf, d.port, d.address, d.cb, d.from);
      } catch (e) {
        d.cb?.(e as Error); // the socket closed meanwhile
      }
    }
  }

  private sendNow(buf: Buffer, port: number, address: string, cb?: (err: Error | null) => void, from?: string): boolean {
    const s = this.sock;
    if (s instanceof NativeUdpSocket) return s.send(buf, port, address, from) || this.drop('queue', address);
    const before = s.getSendQueueCount();
    if (before > 0) {
      // The kernel refused the previous datagram: this one would wait in memory.
      if (before >= (this.opts.maxQueued ?? 256) || (this.queuedPer.get(address) ?? 0) >= (this.opts.maxQueuedPerDestination ?? 4)) {
        return this.drop('queue', address);
      }
    }
    let counted = false;
    s.send(buf, port, address, (err) => {
      if (counted) {
        const n = (this.queuedPer.get(address) ?? 1) - 1;
        if (n <= 0) this.queuedPer.delete(address);
        else this.queuedPer.set(address, n);
      }
      cb?.(err);
    });
    if (s.getSendQueueCount() > before) {
      counted = true;
      this.queuedPer.set(address, (this.queuedPer.get(address) ?? 0) + 1);
    }
    return true;
  }

  private admitUnresolved(address: string): boolean {
    const now = Date.now();
    const windowMs = this.opts.unresolvedWindowMs ?? 3000;
    if (now - this.windowStart >= windowMs) {
      this.windowStart = now;
      this.windowCount = 0;
      for (const [a, t] of this.probedAt) if (now - t >= windowMs) this.probedAt.delete(a);
    }
    const last = this.probedAt.get(address);
    if (last !== undefined && now - last < windowMs) return false;
    if (this.windowCount >= (this.opts.maxUnresolved ?? 32)) return false;
    this.windowCount++;
    this.probedAt.set(address, now);
    return true;
  }

  private drop(reason: DropReason, address: string): false {
    this.dropped[reason]++;
    this.dropsSinceLog++;
    this.opts.telemetry?.count('lanboot_udp_send_dropped_total', { service: this.opts.service, reason });
    const now = Date.now();
    if (this.opts.log && now - this.lastLog >= DROP_LOG_EVERY_MS) {
      this.opts.log.warn(
        { event: `${this.opts.service}.send_dropped`, reason, to: address, dropped: this.dropsSinceLog },
        reason === 'unresolved' ? 'replies to on-link addresses that do not answer ARP dropped' : 'send queue full: replies dropped',
      );
      this.lastLog = now;
      this.dropsSinceLog = 0;
    }
    return false;
  }
}
