/**
 * DHCP sockets, as ISC dhcpd does it on Linux:
 *  - one AF_PACKET socket per served interface (./listen.ts: the listed
 *    ones, or every interface with an address in a configured subnet, checked
 *    again every few seconds) (BPF: UDP to the server port, and the proxy
 *    port in proxy mode). It knows the ingress interface,
 *    and replies are built as whole Ethernet/IPv4/UDP frames: unicast to chaddr
 *    for a client without an address (it cannot answer ARP yet), or broadcast,
 *    leaving by the interface the request came in on (no default route needed);
 *  - a UDP socket on dhcp.address:dhcp.port for relayed and unicast traffic
 *    (renewals) and for sending to relays / clients with an address;
 *  - in proxy mode, a UDP socket on dhcp.address:proxy_port (4011).
 * The UDP sockets are net/udp's native server sockets (batched receive and
 * send, IP_PKTINFO: the server identifier is the address the request came
 * to), or dgram when the addon is not built. "dgram" below means either.
 *
 * One receive per datagram: a datagram on a served interface would reach both
 * the packet socket and the wildcard dgram socket. The kernel splits them by
 * BPF: a packet socket takes only what needs the link layer (Ethernet
 * broadcast/multicast, or from 0.0.0.0: clients without an address), and the
 * dgram sockets drop exactly that for the served interfaces' indexes (the
 * filter follows the interfaces as they are opened and closed). Unicast from
 * a host with an address (an on-link relay, a renewing client) is received by
 * the dgram socket alone, with no link-layer work in JS. Deterministic, no
 * timing window.
 *
 * Where a dgram socket's descriptor cannot be had (net/udp socketFd) or links
 * are memory segments (tests), the split is made in JS instead: packet
 * sockets take everything, and the dgram path drops every datagram whose
 * source is 0.0.0.0 or on-link on a served interface, plus one whose
 * xid+chaddr+type a packet socket handled in the last 2 s.
 *
 * Unserved interfaces: with `interfaces` unset, a broadcast from 0.0.0.0 that
 * reaches the dgram socket but no packet socket came in on an interface
 * lanboot does not serve; it is logged (rate-limited) with the candidates,
 * since dgram cannot say which interface a datagram arrived on (the native
 * socket's ifindex could; not used for this yet).
 */
import { openServerUdp, type Received, type ServerUdp } from '../net/udp.js';
import { PacketSocket, attachFilter, ETH_P_IP, ETH_P_ARP, TP_STATUS_CSUMNOTREADY, type FrameLink } from '../net/packet.js';
import { udpDstPort, udpLinkScopeExcept } from '../net/bpf.js';
import { addressedInterfaces, interfaceInfo, listInterfaces, localAddressFacing, type InterfaceInfo } from '../net/interfaces.js';
import { decodeUdpFrame, encodeUdpFrame } from '../codec/ipv4.js';
import { encode as encodeEthernet, decode as decodeEthernet, ETHERTYPE_ARP } from '../codec/ethernet.js';
import { decode as decodeArp, encode as encodeArp, probe as arpProbe, ARP_REPLY, ARP_REQUEST } from '../codec/arp.js';
import { BROADCAST_MAC, IPV4_BROADCAST, inPrefix } from '../net/address.js';
import { LinkKeeper } from '../net/links.js';
import { encode as encodeDhcp, chaddrToMac, MESSAGE_TYPE_NAMES } from '../codec/dhcp.js';
import { describeRule, servedInterfaces, type FoundInterface, type ListenRule } from './listen.js';
import type { DhcpConfig } from '../config/types.js';
import type { Ingress, Reply } from './types.js';
import type { Telemetry } from '../telemetry.js';
import type { Logger } from '../log.js';

export type DhcpHandler = (buf: Buffer, ingress: Ingress) => Promise<Reply | null>;

export interface DhcpTransportOptions {
  config: DhcpConfig;
  /** Interfaces to open packet sockets on; [] = dgram only; undefined = by subnet (./listen.ts). */
  interfaces: string[] | undefined;
  /** Never served (except_interfaces). */
  exceptInterfaces?: string[];
  /** With `interfaces` unset: how often interfaces are looked at again (default 5000 ms). */
  rescanMs?: number;
  /** Tests: the interfaces found by a scan (default: net/interfaces). */
  scan?: () => FoundInterface[];
  handler: DhcpHandler;
  telemetry: Telemetry;
  log: Logger;
  /** Tests: the UDP sockets on dgram, as when the addon is not built (net/udp openServerUdp). */
  dgram?: boolean;
  /** For tests: open a FrameLink instead of a PacketSocket. */
  openLink?: (ifname: string, protocol: number, ports: number[]) => FrameLink;
  /** ms to wait for an ARP reply when probing (default 250). */
  arpTimeoutMs?: number;
}

interface Link {
  ifname: string;
  link: FrameLink;
  info: InterfaceInfo;
  infoAt: number;
  arp?: FrameLink;
  close(): void;
}

const ZERO = '0.0.0.0';
const M = 'lanboot_dhcp_';
const INFO_TTL_MS = 5000;
const DEDUPE_MS = 2000;
/** Interfaces are looked at again this often when found by subnet (no netlink: a timer is enough for a boot server). */
export const RESCAN_MS = 5000;
/** How long a dgram broadcast waits for the packet sockets to have seen it before it counts as unserved. */
const UNSERVED_SWEEP_MS = 250;
const UNSERVED_PENDING_MAX = 64;
/**
 * Receive buffers of the packet and UDP sockets: about 250 ms of requests
 * at 8,000/s (4,000 DORA/s; ~1 KiB of kernel accounting each, and the kernel
 * doubles the value), so a short stall of the loop (a major GC, a slow
 * sync) loses nothing, while a request never waits anywhere near the 1 s
 * after which its client retransmits (and the sockets drop it unread,
 * STALE_MS; the dgram fallback cannot). The kernel's default for UDP
 * (208 KiB) held 25 ms: 2 % of requests were lost at 4,000 DORA/s.
 */
const RCVBUF = 1024 * 1024;
/**
 * A request that waited this long in the kernel is dropped unread: its client
 * has retransmitted (iPXE and perfdhcp after 1 s) or will get a fresher answer.
 */
export const STALE_MS = 1000;

/** xid + chaddr + message type, read straight from the bytes (no decode needed). */
function dedupeKey(buf: Buffer): string | undefined {
  if (buf.length < 240) return undefined;
  let type = 0;
  for (let i = 240; i + 2 < buf.length; ) {
    const c = buf[i]!;
    if (c === 0) { i++; continue; }
    if (c === 255) break;
    if (c === 53) { type = buf[i + 2]!; break; }
    i += 2 + buf[i + 1]!;
  }
  return buf.toString('hex', 4, 8) + buf.toString('hex', 28, 44) + type;
}

export class DhcpTransport {
  private readonly links: LinkKeeper<Link>;
  /** Relayed and unicast traffic; unicast replies (ciaddr, giaddr, 4011) leave through their `out`: bounded, see net/udp BoundedSender. */
  private main?: ServerUdp;
  private proxySock?: ServerUdp;
  private readonly arpWaiters = new Map<string, Set<(mac: string) => void>>();
  private stopped = false;
  /** UDP ports the packet sockets listen on: the server port, and 4011 when any subnet is proxyDHCP. */
  private readonly ports: number[];
  /** Requests handled from packet sockets recently: key -> time seen. */
  private seen = new Map<string, number>();
  private seenOld = new Map<string, number>();
  private seenRotated = Date.now();
  /** dgram broadcasts waiting to be checked against what the packet sockets saw. */
  private unserved: Array<{ key: string; mac: string; type: string }> = [];
  private unservedTimer?: NodeJS.Timeout;
  private rescanTimer?: NodeJS.Timeout;
  private config: DhcpConfig;
  /** Interfaces that failed to open at a rescan: warned once until they open. */
  private readonly failing = new Set<string>();
  /**
   * Kernel split (see the header): served interface -> ifindex, whose
   * link-scope datagrams the dgram sockets' filter drops. Undefined: split in JS.
   */
  private split?: Map<string, number>;
  private udpFds: number[] = [];

  constructor(private readonly opts: DhcpTransportOptions) {
    const c = opts.config;
    this.config = c;
    this.ports = servesProxy(c) ? [c.port, c.proxy_port] : [c.port];
    this.links = new LinkKeeper<Link>({
      open: (ifname, linkError) => this.openLink(ifname, this.ports, linkError),
      onError: (ifname, err) => this.opts.log.warn({ event: 'dhcp.link_error', iface: ifname, code: err.code }, err.message),
      onReopened: (ifname) => this.opts.log.info({ event: 'dhcp.link_reopened', iface: ifname }, 'packet socket reopened'),
      retryMs: 2000,
    });
  }

  async start(): Promise<Array<{ address: string; port?: number; detail?: string }>> {
    const c = this.opts.config;
    const ports = this.ports;
    const out: Array<{ address: string; port?: number; detail?: string }> = [];
    try {
      // The dgram sockets first: their filter must know each packet socket before it opens.
      this.main = await this.openUdp(c.port);
      const udp = [{ address: c.address, port: c.port, detail: 'udp' }];
      if (servesProxy(c)) {
        this.proxySock = await this.openUdp(c.proxy_port);
        udp.push({ address: c.address, port: c.proxy_port, detail: 'udp, proxyDHCP' });
      }
      if (!this.opts.openLink && (this.auto || this.opts.interfaces!.length > 0)) this.splitInKernel();
      const served = this.served();
      this.links.start([...served.keys()]);
      for (const [ifname, why] of served) {
        out.push({ address: ifname, port: c.port, detail: `packet socket${ports.length > 1 ? ` (ports ${ports.join(', ')})` : ''}${this.auto ? `, ${why}` : ''}` });
      }
      if (this.auto) {
        const every = this.opts.rescanMs ?? RESCAN_MS;
        if (!served.size) {
          out.push({ address: 'no interface yet', detail: `none has an address in dhcp.subnets; looked at again every ${every / 1000} s` });
          this.opts.log.warn(
            { event: 'dhcp.no_interface', subnets: c.subnets.map((s) => s.subnet), rescan_s: every / 1000 },
            `no interface has an address in ${c.subnets.map((s) => s.subnet).join(', ') || 'any dhcp.subnets entry'}: only relayed requests are answered until one does (looked at again every ${every / 1000} s); or list the LAN interfaces in interfaces:`,
          );
        }
        this.rescanTimer = setInterval(() => this.rescan(), every);
        this.rescanTimer.unref();
      }
      out.push(...udp);
    } catch (e) {
      await this.stop();
      throw e;
    }
    return out;
  }

  private openUdp(port: number): Promise<ServerUdp> {
    return openServerUdp({
      address: this.opts.config.address,
      port,
      rcvbuf: RCVBUF,
      maxAgeMs: STALE_MS,
      dgram: this.opts.dgram,
      onMessage: (buf, from) => this.onDatagram(buf, from, port),
      onDropped: (reason, n) => this.opts.telemetry.count(M + 'dropped_total', { reason }, n),
      onError: (err, to) => (to === undefined ? this.opts.log.warn({ event: 'dhcp.socket_error', err: err.message }, 'socket error') : this.sendError(err, to)),
      sender: { service: 'dhcp', telemetry: this.opts.telemetry, log: this.opts.log },
    });
  }

  private sendError(err: NodeJS.ErrnoException, to?: string): void {
    this.opts.telemetry.count(M + 'send_errors_total', { code: err.code ?? 'error' });
    this.opts.log.debug({ event: 'dhcp.send_error', to, err: err.message }, 'send failed');
  }

  /** Give the UDP sockets a filter (accepting all until a packet socket opens); on failure the split stays in JS. */
  private splitInKernel(): void {
    const fds = [this.main, this.proxySock].filter((s) => s !== undefined).map((s) => s!.fd);
    if (fds.some((fd) => fd === undefined)) return;
    try {
      for (const fd of fds) attachFilter(fd!, udpLinkScopeExcept([]));
    } catch (e) {
      this.opts.log.debug({ event: 'dhcp.udp_filter', err: (e as Error).message }, 'no filter on the UDP socket: datagrams are told apart in JS');
      return;
    }
    this.udpFds = fds as number[];
    this.split = new Map();
  }

  /** The packet socket of `ifname` opens (ifindex) or closes (undefined): the dgram sockets' filter follows. */
  private splitFor(ifname: string, ifindex: number | undefined): void {
    if (!this.split) return;
    if (ifindex === undefined) {
      if (!this.split.delete(ifname)) return;
    } else if (this.split.get(ifname) === ifindex) return;
    else this.split.set(ifname, ifindex);
    const prog = udpLinkScopeExcept([...new Set(this.split.values())]);
    try {
      for (const fd of this.udpFds) attachFilter(fd, prog);
    } catch (e) {
      this.opts.log.warn({ event: 'dhcp.udp_filter', err: (e as Error).message }, 'cannot update the UDP socket filter');
    }
  }

  /** `interfaces` unset: served interfaces follow the addresses (./listen.ts). */
  private get auto(): boolean {
    return this.opts.interfaces === undefined;
  }

  private rule(): ListenRule {
    return { interfaces: this.opts.interfaces, except: this.opts.exceptInterfaces ?? [], subnets: this.config.subnets };
  }

  private served(): Map<string, string> {
    return servedInterfaces(this.rule(), this.auto ? (this.opts.scan ?? addressedInterfaces)() : []);
  }

  /** New subnets (reload): with `interfaces` unset they decide which interfaces are served. */
  setConfig(config: DhcpConfig): void {
    this.config = config;
    if (this.auto && !this.stopped) this.rescan();
  }

  /** Open interfaces that now have an address in a subnet; close those that lost it (or vanished). */
  rescan(): void {
    if (this.stopped || !this.auto) return;
    let served: Map<string, string>;
    try {
      served = this.served();
    } catch (e) {
      this.opts.log.warn({ event: 'dhcp.scan_error', err: (e as Error).message }, 'cannot list interfaces');
      return;
    }
    for (const ifname of this.links.names()) {
      if (served.has(ifname)) continue;
      this.links.remove(ifname);
      this.opts.log.info({ event: 'dhcp.interface_removed', iface: ifname }, `DHCP no longer serves ${ifname}: it has no address in dhcp.subnets now (or is gone)`);
    }
    for (const [ifname, why] of served) {
      if (this.links.names().includes(ifname)) continue;
      try {
        this.links.add(ifname);
        this.failing.delete(ifname);
        this.opts.log.info({ event: 'dhcp.interface_added', iface: ifname, why }, `DHCP now serves ${ifname} (${why})`);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (this.failing.has(ifname)) continue;
        this.failing.add(ifname);
        const hint = err.code === 'EPERM' ? ': packet sockets need root or CAP_NET_RAW' : '';
        this.opts.log.warn({ event: 'dhcp.interface_error', iface: ifname, code: err.code }, `cannot serve ${ifname} (${why}): ${err.message}${hint}`);
      }
    }
  }

  /** The packet sockets of one interface; a vanished interface is reopened by net/links. */
  private openLink(ifname: string, ports: number[], linkError: (err: NodeJS.ErrnoException) => void): Link {
    const c = this.opts.config;
    const info = interfaceInfo(ifname);
    let link: FrameLink;
    if (this.opts.openLink) link = this.opts.openLink(ifname, ETH_P_IP, ports);
    else {
      // The dgram sockets stop taking this interface's link-scope traffic before the packet socket starts.
      const split = this.split !== undefined;
      this.splitFor(ifname, info.ifindex);
      try {
        const ps = PacketSocket.open({ ifname, protocol: ETH_P_IP, filter: udpDstPort(ports, { linkScope: split }), rcvbuf: RCVBUF, maxAgeMs: STALE_MS });
        ps.on('stale', (n) => this.opts.telemetry.count(M + 'dropped_total', { reason: 'stale' }, n));
        this.splitFor(ifname, ps.ifindex); // recreated in between: its new index
        link = ps;
      } catch (e) {
        this.splitFor(ifname, undefined);
        throw e;
      }
    }
    const l: Link = {
      ifname,
      link,
      info,
      infoAt: Date.now(),
      close: () => {
        l.link.close();
        l.arp?.close();
        this.splitFor(ifname, undefined);
      },
    };
    link.on('frame', (frame, _pktType, status) => this.onFrame(l, frame, status));
    if (link instanceof PacketSocket) link.on('linkerror', linkError);
    try {
      if (c.arp_probe) {
        l.arp = this.opts.openLink ? this.opts.openLink(ifname, ETH_P_ARP, []) : PacketSocket.open({ ifname, protocol: ETH_P_ARP, rcvbuf: 256 * 1024 });
        l.arp.on('frame', (frame) => this.onArp(frame));
      }
    } catch (e) {
      l.close();
      throw e;
    }
    return l;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.rescanTimer);
    clearTimeout(this.unservedTimer);
    this.links.close();
    await Promise.all([this.main?.close(), this.proxySock?.close()]).catch(() => undefined);
    this.main = this.proxySock = undefined;
  }

  // ------------------------------------------------------------ receive

  private info(l: Link): InterfaceInfo {
    const now = Date.now();
    if (now - l.infoAt > INFO_TTL_MS) {
      try {
        l.info = interfaceInfo(l.ifname);
      } catch {
        /* interface gone: keep the last view until the socket errors */
      }
      l.infoAt = now;
    }
    return l.info;
  }

  private onFrame(l: Link, frame: Buffer, status: number): void {
    if (this.stopped) return;
    let d: ReturnType<typeof decodeUdpFrame>;
    try {
      d = decodeUdpFrame(frame, { verifyChecksum: (status & TP_STATUS_CSUMNOTREADY) === 0 });
    } catch (e) {
      this.opts.telemetry.count(M + 'dropped_total', { reason: 'bad_frame' });
      this.opts.log.debug({ event: 'dhcp.drop', reason: 'bad_frame', iface: l.ifname, err: (e as Error).message }, 'dropped');
      return;
    }
    const info = this.info(l);
    // Never answer ourselves (a relay on this host sending to us, our own broadcasts looped back).
    if (d.srcMac === info.mac) return;
    const addresses = info.ipv4.map((a) => a.address);
    const ingress: Ingress = {
      via: 'packet',
      iface: l.ifname,
      localAddress: addresses[0],
      addresses,
      localPort: d.udp.dstPort,
      srcAddress: d.ip.src,
      srcPort: d.udp.srcPort,
      broadcast: d.ip.dst === IPV4_BROADCAST || d.dstMac === BROADCAST_MAC,
    };
    // A unicast to one of several interface addresses says which one the client talks to.
    if (!ingress.broadcast && addresses.includes(d.ip.dst)) ingress.localAddress = d.ip.dst;
    else if (d.ip.dst !== IPV4_BROADCAST && !addresses.includes(d.ip.dst) && d.dstMac !== BROADCAST_MAC) {
      // Unicast to an address that is not ours (promiscuous copies, or another server's clients).
      return;
    }
    const payload = Buffer.from(d.udp.payload);
    // Only a source the dgram path would not drop by itself (0.0.0.0, on-link) needs remembering;
    // with interfaces found by subnet, 0.0.0.0 too: the dgram path asks what no packet socket saw.
    if ((this.auto && d.ip.src === ZERO) || (d.ip.src !== ZERO && !info.ipv4.some((a) => inPrefix(d.ip.src, a.address, a.prefix)))) {
      const k = dedupeKey(payload);
      if (k) this.remember(k);
    }
    this.dispatch(payload, ingress);
  }

  /** Two generations of keys, rotated every DEDUPE_MS: bounded memory, no per-key timers. */
  private remember(k: string): void {
    const now = Date.now();
    if (now - this.seenRotated > DEDUPE_MS) {
      this.seenOld = this.seen;
      this.seen = new Map();
      this.seenRotated = now;
    }
    this.seen.set(k, now);
  }

  private seenRecently(k: string): boolean {
    return this.seen.has(k) || this.seenOld.has(k);
  }

  private onDatagram(buf: Buffer, from: Received, localPort: number): void {
    if (this.stopped) return;
    const src = from.address;
    if (this.split) {
      // The filter left only unicast from hosts with an address, and what came in elsewhere.
      if (src === ZERO) {
        if (this.auto) this.checkServed(buf);
        return;
      }
    } else if (this.opts.interfaces === undefined || this.opts.interfaces.length > 0) {
      if (src === ZERO) {
        if (this.auto) this.checkServed(buf);
        return;
      }
      for (const l of this.links.links()) {
        for (const a of this.info(l).ipv4) if (inPrefix(src, a.address, a.prefix)) return; // the packet socket has it
      }
      const k = dedupeKey(buf);
      if (k && this.seenRecently(k)) {
        this.opts.telemetry.count(M + 'duplicates_total');
        return;
      }
    }
    const c = this.opts.config;
    // The address the request was sent to (IP_PKTINFO; the interface's for a broadcast), else
    // (dgram) our address facing the sender: the local address on its subnet (relays are on-link).
    let localAddress = c.address !== ZERO ? c.address : from.local && from.local !== ZERO ? from.local : undefined;
    if (!localAddress && src !== ZERO) localAddress = localAddressFacing(src)?.address;
    this.dispatch(buf, { via: 'udp', localAddress, localPort, srcAddress: src, srcPort: from.port });
  }

  /** A broadcast the dgram socket got: if no packet socket saw it, it came in on an unserved interface. */
  private checkServed(buf: Buffer): void {
    const key = dedupeKey(buf);
    if (!key || this.unserved.length >= UNSERVED_PENDING_MAX) return;
    this.unserved.push({ key, mac: formatChaddr(buf), type: dhcpTypeName(Number(key.slice(40))) });
    if (this.unservedTimer) return;
    this.unservedTimer = setTimeout(() => {
      this.unservedTimer = undefined;
      const pending = this.unserved;
      this.unserved = [];
      const missed = pending.filter((p) => !this.seenRecently(p.key));
      if (!missed.length || this.stopped) return;
      this.opts.telemetry.count(M + 'dropped_total', { reason: 'unserved_interface' }, missed.length);
      // Which interface? Not served, not excluded, not loopback: one of these.
      const served = new Set(this.links.names());
      const except = new Set(this.opts.exceptInterfaces ?? []);
      const candidates = listInterfaces().filter((i) => !i.loopback && i.up && !served.has(i.ifname) && !except.has(i.ifname));
      if (!candidates.length) return; // an excluded interface: not ours, on purpose
      const names = candidates.map((i) => `${i.ifname} (${i.ipv4.length ? i.ipv4.map((a) => `${a.address}/${a.prefix}`).join(', ') : 'no IPv4 address'})`);
      for (const p of missed) {
        this.opts.log.warn(
          { event: 'dhcp.unserved_interface', mac: p.mac, type: p.type, candidates: candidates.map((i) => i.ifname) },
          `${p.type} from ${p.mac} came in on an interface lanboot does not serve (${candidates.length > 1 ? 'one of ' : ''}${names.join('; ')}), so it is not answered: ` +
            `add a dhcp.subnets entry for that network (or give the interface an address in one), or list it in except_interfaces to silence this`,
        );
      }
    }, UNSERVED_SWEEP_MS);
    this.unservedTimer.unref();
  }

  private dispatch(buf: Buffer, ingress: Ingress): void {
    this.opts
      .handler(buf, ingress)
      .then((reply) => {
        if (reply && !this.stopped) this.send(reply, ingress);
      })
      .catch((e) => {
        this.opts.telemetry.count(M + 'dropped_total', { reason: 'internal' });
        this.opts.log.warn({ event: 'dhcp.error', err: (e as Error).message }, 'handler failed');
      });
  }

  // ------------------------------------------------------------ send

  send(reply: Reply, ingress: Ingress): void {
    let payload: Buffer;
    try {
      payload = encodeDhcp(reply.message, {
        maxLength: reply.maxLength,
        requested: reply.requested,
        onDrop: (codes) => {
          // RFC 2132 §9.8: better a reply without unrequested options than none at all.
          this.opts.telemetry.count(M + 'options_dropped_total', {}, codes.length);
          this.opts.log.debug({ event: 'dhcp.options_dropped', mac: chaddrToMac(reply.message), codes, max: reply.maxLength }, 'reply too long: unrequested options dropped');
        },
      });
    } catch (e) {
      this.opts.telemetry.count(M + 'dropped_total', { reason: 'encode' });
      this.opts.log.warn({ event: 'dhcp.encode_error', err: (e as Error).message }, 'reply does not encode');
      return;
    }
    const c = this.opts.config;
    const to = reply.to;
    const l = ingress.via === 'packet' && ingress.iface ? this.links.get(ingress.iface) : undefined;
    const srcPort = ingress.localPort === c.proxy_port && servesProxy(c) ? c.proxy_port : c.port;
    try {
      if (l && (to.kind === 'link' || to.kind === 'broadcast')) {
        const info = this.info(l);
        const from = reply.from && info.ipv4.some((a) => a.address === reply.from) ? reply.from : (info.ipv4[0]?.address ?? ZERO);
        const frame = encodeUdpFrame({
          srcMac: info.mac,
          dstMac: to.kind === 'link' ? to.mac : BROADCAST_MAC,
          src: from,
          dst: to.kind === 'link' ? to.address : IPV4_BROADCAST,
          srcPort: c.port,
          dstPort: to.port,
          ttl: 64,
          payload,
        });
        l.link.send(frame);
        return;
      }
      const sock = (srcPort === c.proxy_port && this.proxySock ? this.proxySock : this.main)?.out;
      if (!sock) return;
      let address: string;
      let port = to.port;
      if (to.kind === 'broadcast' || to.kind === 'link') {
        // No packet socket: a client with a source address gets it back by
        // unicast; else limited broadcast (leaves by the default route).
        if (ingress.srcAddress !== ZERO) {
          address = ingress.srcAddress;
          port = ingress.srcPort;
        } else address = IPV4_BROADCAST;
      } else address = to.address;
      // From the address the request came to (the server identifier's): the native socket's IP_PKTINFO.
      const from = ingress.via === 'udp' && ingress.localAddress !== ZERO ? ingress.localAddress : undefined;
      sock.send(payload, port, address, (err) => err && this.sendError(err, address), from);
    } catch (e) {
      this.opts.telemetry.count(M + 'send_errors_total', { code: 'exception' });
      this.opts.log.warn({ event: 'dhcp.send_error', err: (e as Error).message }, 'send failed');
    }
  }

  // ------------------------------------------------------------ ARP probe

  private onArp(frame: Buffer): void {
    try {
      const eth = decodeEthernet(frame);
      if (eth.kind !== 'ethernet' || eth.ethertype !== ETHERTYPE_ARP) return;
      const p = decodeArp(eth.payload);
      if (p.op !== ARP_REQUEST && p.op !== ARP_REPLY) return;
      const waiters = this.arpWaiters.get(p.senderIp);
      if (waiters) for (const w of waiters) w(p.senderMac);
    } catch {
      /* not ARP we understand */
    }
  }

  /**
   * RFC 5227 probe: ARP request for `ip` with sender address 0.0.0.0, out of
   * the ingress interface; true when anyone answers (or announces it) in time.
   */
  probe(ip: string, ingress: Ingress): Promise<boolean> {
    const l = ingress.iface ? this.links.get(ingress.iface) : undefined;
    if (!l?.arp) return Promise.resolve(false);
    const info = this.info(l);
    let frame: Buffer;
    try {
      frame = encodeEthernet({ kind: 'ethernet', dst: BROADCAST_MAC, src: info.mac, ethertype: ETHERTYPE_ARP, payload: encodeArp(arpProbe(info.mac, ip)) });
    } catch {
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      let set = this.arpWaiters.get(ip);
      if (!set) this.arpWaiters.set(ip, (set = new Set()));
      const done = (inUse: boolean) => {
        clearTimeout(timer);
        set!.delete(onReply);
        if (set!.size === 0) this.arpWaiters.delete(ip);
        resolve(inUse);
      };
      const onReply = () => done(true);
      set.add(onReply);
      const timer = setTimeout(() => done(false), this.opts.arpTimeoutMs ?? 250);
      try {
        l.arp!.send(frame);
      } catch {
        done(false);
      }
    });
  }
}

function dhcpTypeName(type: number): string {
  const n = MESSAGE_TYPE_NAMES[type];
  return n ? `DHCP${n}` : 'BOOTP request';
}

/** chaddr as a MAC (Ethernet's 6 bytes) from a BOOTP message's bytes. */
function formatChaddr(buf: Buffer): string {
  return buf.length >= 34 ? [...buf.subarray(28, 34)].map((b) => b.toString(16).padStart(2, '0')).join(':') : 'unknown';
}

/** The PXE boot server port is opened in proxy mode and when a subnet is answered as proxy. */
function servesProxy(c: DhcpConfig): boolean {
  return (c.mode === 'proxy' || c.subnets.some((s) => s.proxy)) && c.proxy_port !== c.port;
}
