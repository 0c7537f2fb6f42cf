/**
 * Raw Ethernet frames in and out of one interface (AF_PACKET via native/).
 *
 * Services do not use PacketSocket directly: they depend on FrameLink, which
 * tests satisfy with MemorySegment (no root, no namespaces needed).
 */
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import { loadNative } from '../native.js';
import type { BpfInstruction } from './bpf.js';
import { formatMac, normalizeMac, parseMac } from './address.js';

/** linux/if_ether.h protocol numbers for PacketSocket.open({protocol}). */
export const ETH_P_ALL = 0x0003; // every frame, both directions
export const ETH_P_802_2 = 0x0004; // 802.3 length-field frames (LLC): RPL
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;

/** sll_pkttype: how the kernel classified a received frame's destination. */
export const PACKET_HOST = 0;
export const PACKET_BROADCAST = 1;
export const PACKET_MULTICAST = 2;
export const PACKET_OTHERHOST = 3;
// PACKET_OUTGOING (4) is never delivered: our own sends are filtered out.

/**
 * tp_status bits passed as the third 'frame' argument (linux/if_packet.h).
 * CSUMNOTREADY: the L4 checksum was never filled in (offload on veth or a
 * local sender), so do not verify it; CSUM_VALID: the NIC already checked it.
 */
export const TP_STATUS_CSUMNOTREADY = 1 << 3;
export const TP_STATUS_VLAN_VALID = 1 << 4;
export const TP_STATUS_CSUM_VALID = 1 << 7;

const PACKET_MR_MULTICAST = 0;
const PACKET_MR_PROMISC = 1;

export const DEFAULT_RCVBUF = 4 * 1024 * 1024;

/** pktType: PACKET_HOST..OTHERHOST; status: TP_STATUS_* bits (0 from MemoryLink). */
export type FrameListener = (frame: Buffer, pktType: number, status: number) => void;

/** The link a service talks through: a PacketSocket, or MemorySegment in tests. */
export interface FrameLink {
  /** Our MAC, lower-case aa:bb:cc:dd:ee:ff. */
  readonly mac: string;
  /** Send one complete Ethernet frame (header included, padded by the caller). */
  send(frame: Buffer): void;
  on(event: 'frame', listener: FrameListener): this;
  off(event: 'frame', listener: FrameListener): this;
  close(): void;
}

export interface PacketStats {
  /** Frames the kernel queued for us since the previous stats() call (PACKET_STATISTICS). */
  packets: number;
  /** Of those, frames dropped because the receive buffer was full. */
  drops: number;
  /** Effective receive buffer in bytes (the kernel reports double the requested size). */
  rcvbuf: number;
}

export interface PacketSocketOptions {
  ifname: string;
  /** Ethertype to bind, e.g. ETH_P_IP, ETH_P_802_2, ETH_P_ALL. */
  protocol: number;
  /** Classic BPF program (see bpf.ts), attached before the first frame can arrive. */
  filter?: BpfInstruction[];
  /** Multicast MACs to join, e.g. ['03:00:02:00:00:00'] for RPL FIND. */
  multicast?: string[];
  promiscuous?: boolean;
  /** SO_RCVBUF(FORCE) bytes; default 4 MiB. The kernel doubles it for bookkeeping. */
  rcvbuf?: number;
  /**
   * Drop, before JS sees them, frames that waited longer than this in the
   * receive queue (kernel receive timestamps); counted by 'stale' events.
   * Default 0: no limit.
   */
  maxAgeMs?: number;
}

interface NativeSocket {
  send(frame: Buffer): void;
  setFilter(filter: BpfInstruction[]): void;
  membership(add: boolean, type: number, mac: Buffer | null): void;
  stats(): PacketStats;
  close(): void;
}

interface Addon {
  Socket: new (
    ifname: string,
    protocol: number,
    rcvbuf: number,
    filter: BpfInstruction[] | null,
    // frame === null: a link error, pktType then carries the errno; or pktType 0: `status` frames dropped for their age.
    onFrame: (frame: Buffer | null, pktType: number, status: number, vlanTci: number) => void,
    maxAgeMs: number,
  ) => NativeSocket;
  ifInfo(ifname: string): { ifindex: number; mtu: number; mac: Buffer };
  attachFilter(fd: number, filter: BpfInstruction[]): void;
  setRcvbuf(fd: number, bytes: number): number;
}

let addon: Addon | undefined;

/** Loaded on first use so that importing this module never needs the build. */
export function loadAddon(): Addon {
  if (!addon) addon = loadNative<Addon>('lanboot_packet');
  return addon;
}

function linkError(ifname: string, errno: number): NodeJS.ErrnoException {
  const code = Object.entries(osConstants.errno).find(([, v]) => v === errno)?.[0] ?? `E${errno}`;
  return Object.assign(new Error(`packet socket on ${ifname}: ${code}`), { code, errno: -errno });
}

/** ifindex, MAC and MTU of an interface (ioctl SIOCGIFINDEX/HWADDR/MTU). */
export function linkInfo(ifname: string): { ifindex: number; mac: string; mtu: number } {
  const i = loadAddon().ifInfo(ifname);
  return { ifindex: i.ifindex, mac: formatMac(i.mac), mtu: i.mtu };
}

/** Attach (replace) a classic BPF program on any socket's fd, e.g. a dgram socket's (net/udp socketFd). */
export function attachFilter(fd: number, filter: BpfInstruction[]): void {
  loadAddon().attachFilter(fd, filter);
}

/**
 * SO_RCVBUF of any socket's fd, past net.core.rmem_max when privileged
 * (SO_RCVBUFFORCE); returns the effective size (the kernel doubles the value).
 */
export function setReceiveBuffer(fd: number, bytes: number): number {
  return loadAddon().setRcvbuf(fd, bytes);
}

/**
 * Events:
 *  'frame' (frame, pktType, status)  one received frame, see FrameListener
 *  'stale' (count)    frames dropped unread for waiting longer than maxAgeMs
 *  'linkerror' (err)  err.code ENETDOWN: the link went down (or is being
 *                     deleted); frames resume by themselves when it is up again.
 *                     ENODEV follows within a second if the interface is gone:
 *                     this socket is dead, close it and open a new one.
 */
export class PacketSocket extends EventEmitter implements FrameLink {
  readonly ifname: string;
  readonly ifindex: number;
  readonly mac: string;
  readonly mtu: number;
  readonly protocol: number;
  /** Frames dropped because they carried a VLAN id (their tag is stripped before we see them). */
  vlanDropped = 0;
  #sock: NativeSocket | undefined;
  #recheck: NodeJS.Timeout | undefined;

  private constructor(opts: PacketSocketOptions) {
    super();
    const { ifname, protocol } = opts;
    const info = linkInfo(ifname);
    this.ifname = ifname;
    this.ifindex = info.ifindex;
    this.mac = info.mac;
    this.mtu = info.mtu;
    this.protocol = protocol;
    const groups = (opts.multicast ?? []).map((m) => parseMac(m));
    const sock = new (loadAddon().Socket)(
      ifname,
      protocol,
      opts.rcvbuf ?? DEFAULT_RCVBUF,
      opts.filter ?? null,
      (frame, pktType, status, vlanTci) => {
        if (frame === null) {
          if (pktType === 0) this.emit('stale', status);
          else this.#linkError(pktType);
          return;
        }
        // A frame from VLAN n arrives untagged on the parent; answering it untagged
        // would reach the wrong network. Serve VLANs by opening the VLAN interface.
        if (status & TP_STATUS_VLAN_VALID && (vlanTci & 0xfff) !== 0) this.vlanDropped++;
        else this.emit('frame', frame, pktType, status);
      },
      opts.maxAgeMs ?? 0,
    );
    try {
      for (const g of groups) sock.membership(true, PACKET_MR_MULTICAST, g);
      if (opts.promiscuous) sock.membership(true, PACKET_MR_PROMISC, null);
    } catch (e) {
      sock.close();
      throw e;
    }
    this.#sock = sock;
  }

  static open(opts: PacketSocketOptions): PacketSocket {
    return new PacketSocket(opts);
  }

  get closed(): boolean {
    return this.#sock === undefined;
  }

  /**
   * The kernel says ENETDOWN both when the link goes down and when it is
   * deleted; tell them apart by looking the name up, now and once more a
   * moment later (the deletion may still be under way).
   */
  #linkError(errno: number): void {
    this.emit('linkerror', linkError(this.ifname, errno));
    const gone = (): boolean => {
      try {
        return loadAddon().ifInfo(this.ifname).ifindex !== this.ifindex;
      } catch {
        return true;
      }
    };
    const report = (): void => {
      this.#recheck = undefined;
      if (this.#sock) this.emit('linkerror', linkError(this.ifname, osConstants.errno.ENODEV));
    };
    clearTimeout(this.#recheck);
    if (gone()) report();
    else {
      this.#recheck = setTimeout(() => gone() && report(), 1000);
      this.#recheck.unref();
    }
  }

  #open(): NativeSocket {
    if (!this.#sock) throw new Error(`packet socket on ${this.ifname} is closed`);
    return this.#sock;
  }

  send(frame: Buffer): void {
    this.#open().send(frame);
  }

  /** Replace the BPF program. */
  setFilter(filter: BpfInstruction[]): void {
    this.#open().setFilter(filter);
  }

  joinMulticast(mac: string): void {
    this.#open().membership(true, PACKET_MR_MULTICAST, parseMac(mac));
  }

  leaveMulticast(mac: string): void {
    this.#open().membership(false, PACKET_MR_MULTICAST, parseMac(mac));
  }

  /** See PacketStats; the counters reset on every call. */
  stats(): PacketStats {
    return this.#open().stats();
  }

  /** Idempotent. No 'frame' is emitted after close() returns, even mid-burst. */
  close(): void {
    const s = this.#sock;
    this.#sock = undefined;
    clearTimeout(this.#recheck);
    s?.close();
  }

  override on(event: 'frame', listener: FrameListener): this;
  override on(event: 'linkerror', listener: (err: NodeJS.ErrnoException) => void): this;
  override on(event: 'stale', listener: (count: number) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  override off(event: 'frame', listener: FrameListener): this;
  override off(event: 'linkerror', listener: (err: NodeJS.ErrnoException) => void): this;
  override off(event: string | symbol, listener: (...args: any[]) => void): this;
  override off(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.off(event, listener);
  }
}

/**
 * An in-memory Ethernet segment for tests: every attached link receives the
 * frames the others send, classified like the kernel does (host, broadcast,
 * multicast, other host); a link only sees other-host frames if promiscuous.
 * Delivery is asynchronous (setImmediate), like a real socket.
 */
export class MemorySegment {
  readonly links = new Set<MemoryLink>();

  attach(mac: string, opts: { promiscuous?: boolean } = {}): MemoryLink {
    const link = new MemoryLink(this, normalizeMac(mac), opts.promiscuous ?? false);
    this.links.add(link);
    return link;
  }

  /** @internal */
  deliver(from: MemoryLink, frame: Buffer): void {
    const copy = Buffer.from(frame);
    const dst = formatMac(copy);
    for (const l of this.links) {
      if (l === from) continue;
      const type =
        dst === 'ff:ff:ff:ff:ff:ff' ? PACKET_BROADCAST
        : copy[0] & 1 ? PACKET_MULTICAST
        : dst === l.mac ? PACKET_HOST
        : PACKET_OTHERHOST;
      if (type === PACKET_OTHERHOST && !l.promiscuous) continue;
      setImmediate(() => l.receive(copy, type));
    }
  }
}

export class MemoryLink extends EventEmitter implements FrameLink {
  /** Every frame this link sent, for assertions. */
  readonly sent: Buffer[] = [];
  #closed = false;

  constructor(
    readonly segment: MemorySegment,
    readonly mac: string,
    readonly promiscuous: boolean,
  ) {
    super();
  }

  send(frame: Buffer): void {
    if (this.#closed) throw new Error('memory link is closed');
    if (!Buffer.isBuffer(frame) || frame.length < 14) throw new TypeError('frame must be a Buffer of >= 14 bytes');
    this.sent.push(Buffer.from(frame));
    this.segment.deliver(this, frame);
  }

  /** @internal */
  receive(frame: Buffer, pktType: number): void {
    if (!this.#closed) this.emit('frame', frame, pktType, 0);
  }

  close(): void {
    this.#closed = true;
    this.segment.links.delete(this);
  }

  override on(event: 'frame', listener: FrameListener): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  override off(event: 'frame', listener: FrameListener): this;
  override off(event: string | symbol, listener: (...args: any[]) => void): this;
  override off(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.off(event, listener);
  }
}
