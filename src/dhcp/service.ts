/**
 * The DHCP server's state machine (RFC 2131 §4.3), authoritative and
 * proxyDHCP modes. It never touches a socket: the transport hands in
 * (bytes or message, ingress) and sends the Reply this returns, if any.
 * Policy (what a client boots) comes from the boot plan; replies are built by
 * the ordered handler chain in ./handlers.
 */
import {
  decode, replyTo, messageType, chaddrToMac, DhcpDecodeError, MESSAGE_TYPE_NAMES,
  BOOTREQUEST, DHCPDISCOVER, DHCPOFFER, DHCPREQUEST, DHCPDECLINE, DHCPACK, DHCPNAK, DHCPRELEASE, DHCPINFORM,
  DEFAULT_MAX_MESSAGE, FLAG_BROADCAST, type DhcpMessage,
} from '../codec/dhcp.js';
import {
  OPT, PXE_SUB, clientKey, readClientArch, readIp, readIpxeOptions, readPxeOptions, readString, readU16, readUserClasses, readUuid,
} from '../codec/dhcp-options.js';
import type { DhcpConfig, SubnetConfig } from '../config/types.js';
import { ipv4ToNumber, parseIpv4, prefixMask } from '../net/address.js';
import type { ClientFacts, DhcpAnswer } from '../plan/types.js';
import { CLIENT_KEY_MAX, type Allocation, type LeaseStore, type Pool } from '../leases/store.js';
import type { Counter, Telemetry } from '../telemetry.js';
import type { Logger } from '../log.js';
import { limitLogs } from '../log-limit.js';
import { defaultHandlers } from './handlers/index.js';
import type { Destination, Ingress, Reply, ReplyContext, ReplyHandler } from './types.js';

export type { Ingress, Reply, Destination } from './types.js';

/** Anything with the boot plan's dhcp() (tests pass a BootPlan; the app passes a getter for reloads). */
export interface DhcpPlan {
  dhcp(facts: ClientFacts): DhcpAnswer;
  /** False when no answer depends on the address offered ({ip} in no template); unknown = assume it does. */
  readonly templatesUseIp?: boolean;
}

export interface DhcpServiceOptions {
  config: DhcpConfig;
  /** The boot plan, or a getter returning the current one (config reloads swap it). */
  plan: DhcpPlan | (() => DhcpPlan);
  /** Required in authoritative mode; unused in proxy mode. */
  leases?: LeaseStore;
  telemetry: Telemetry;
  log: Logger;
  /** Top-level `server:` (advertised address), if configured. */
  server?: string;
  /**
   * Optional ARP probe before offering an address never leased before:
   * resolves true when something answers for `ip` (address in use).
   */
  probe?: (ip: string, ingress: Ingress) => Promise<boolean>;
  /** Reply chain; default ./handlers. */
  handlers?: readonly ReplyHandler[];
  /** How many client addresses factsFor() remembers (least recently used go first; default 4096). */
  factsCapacity?: number;
  /**
   * Lease writes that may wait for the disk at once (default 1024). From half
   * of it new DISCOVERs are dropped, at it REQUESTs too (reason "overload"):
   * an overloaded server then sheds new exchanges first and never answers a
   * burst of thousands of ACKs at once, long after the clients gave up.
   */
  maxPendingWrites?: number;
  /** Clock (tests). */
  now?: () => number;
}

const ZERO = '0.0.0.0';
const M = 'lanboot_dhcp_';

/** A subnet's network and mask as integers, computed once per config object. */
const netOfSubnet = new WeakMap<SubnetConfig, { net: number; mask: number }>();
function netOf(s: SubnetConfig): { net: number; mask: number } {
  let v = netOfSubnet.get(s);
  if (!v) {
    const mask = prefixMask(s.prefix);
    netOfSubnet.set(s, (v = { net: (ipv4ToNumber(s.network) & mask) >>> 0, mask }));
  }
  return v;
}
/** proxyDHCP knows no lease time: how long facts of a proxy client are kept. */
const PROXY_FACTS_SECONDS = 3600;
/** How long an ARP probe's "free" stands: as long as the lease store holds an offer (30 s). */
const OFFER_HOLD_MS = 30_000;

export class DhcpService {
  config: DhcpConfig;
  private planOf: () => DhcpPlan;
  private readonly leases?: LeaseStore;
  private readonly telemetry: Telemetry;
  private readonly log: Logger;
  private server?: string;
  private readonly probe?: (ip: string, ingress: Ingress) => Promise<boolean>;
  private readonly handlers: readonly ReplyHandler[];
  private readonly now: () => number;
  /** Client IP -> last facts seen for it; Map order is recency (LRU). */
  private readonly factsByIp = new Map<string, { facts: ClientFacts; expires: number }>();
  private readonly factsCapacity: number;
  /** Clients whose DISCOVER waits for an ARP probe (by client key), and when it ends. */
  private readonly probing = new Map<string, Promise<void>>();
  /** Addresses an ARP probe found free, until when (the offer hold): offered again without a new probe. */
  private readonly probedFree = new Map<string, number>();
  /** Counters by message type, made at first use (the hot path does not build label keys). */
  private readonly requestCounters: Counter[] = [];
  private readonly replyCounters: Counter[] = [];
  private readonly maxPendingWrites: number;
  /** Lease writes (REQUEST -> ACK) waiting for the disk. */
  private pendingWrites = 0;

  constructor(opts: DhcpServiceOptions) {
    this.config = opts.config;
    const p = opts.plan;
    this.planOf = typeof p === 'function' ? p : () => p;
    this.leases = opts.leases;
    this.telemetry = opts.telemetry;
    this.log = limitLogs(opts.log); // conflicts, journal errors and handler bugs: once per event, not per packet
    this.server = opts.server;
    this.probe = opts.probe;
    this.handlers = opts.handlers ?? defaultHandlers;
    this.now = opts.now ?? Date.now;
    this.factsCapacity = Math.max(1, opts.factsCapacity ?? 4096);
    this.maxPendingWrites = Math.max(2, opts.maxPendingWrites ?? 1024);
    if (this.config.mode === 'authoritative' && !this.leases) throw new Error('authoritative DHCP needs a lease store');
  }

  /** New config section (reload). The journal and its leases stay; pools follow the new subnets. */
  setConfig(config: DhcpConfig, server?: string): void {
    this.config = config;
    this.server = server;
    this.leases?.setSubnets(config.subnets);
  }

  /**
   * What the client using `ip` last told us (arch, vendor class, MAC...), so
   * other services (TFTP quirks) can apply per-client policy; in proxy mode
   * there are no leases to look the client up in. Undefined once the lease
   * (or the proxy hold) has expired, or after RELEASE/DECLINE.
   */
  factsFor(ip: string): ClientFacts | undefined {
    const e = this.factsByIp.get(ip);
    if (!e) return undefined;
    this.factsByIp.delete(ip);
    if (e.expires <= this.now()) return undefined;
    this.factsByIp.set(ip, e); // most recently used
    return e.facts;
  }

  private remember(ip: string, facts: ClientFacts, seconds: number): void {
    if (!ip || ip === ZERO) return;
    const f = facts.ip === ip ? facts : { ...facts, ip };
    const expires = this.now() + seconds * 1000;
    const e = this.factsByIp.get(ip);
    if (e) {
      // Most recently used: moved to the end of the Map's order; the entry itself is reused.
      this.factsByIp.delete(ip);
      e.facts = f;
      e.expires = expires;
      this.factsByIp.set(ip, e);
      return;
    }
    this.factsByIp.set(ip, { facts: f, expires });
    while (this.factsByIp.size > this.factsCapacity) this.factsByIp.delete(this.factsByIp.keys().next().value!);
  }

  private drop(reason: string, detail?: Record<string, unknown>): null {
    this.telemetry.count(M + 'dropped_total', { reason });
    this.log.debug({ event: 'dhcp.drop', reason, ...detail }, 'dropped');
    return null;
  }

  /**
   * A broadcast from the LAN that no subnet fits is a setup problem, not
   * noise: warned (limited per event by log-limit), not logged at debug.
   */
  private unanswerable(reason: 'no_subnet' | 'no_server_address', req: DhcpMessage, ingress: Ingress, mac: string, typeName: string): null {
    const broadcast = req.giaddr === ZERO && (ingress.via === 'packet' ? ingress.broadcast : ingress.srcAddress === ZERO);
    if (!broadcast) return this.drop(reason, { mac, giaddr: req.giaddr, iface: ingress.iface });
    this.telemetry.count(M + 'dropped_total', { reason });
    const iface = ingress.iface;
    const addrs = ingress.addresses ?? [];
    let why: string;
    if (!iface) why = 'with interfaces: [] lanboot cannot tell which interface it came in on and serves several subnets; remove interfaces: [] (or list the LAN interfaces)';
    else if (!addrs.length) why = `${iface} has no IPv4 address; give it one inside a dhcp.subnets entry`;
    else if (reason === 'no_subnet') why = `no dhcp.subnets entry holds an address of ${iface} (${addrs.join(', ')}); add one for that network`;
    else why = `no address of ${iface} to answer from; set server:`;
    this.log.warn({ event: 'dhcp.unanswered', reason, mac, iface, type: typeName }, `DHCP${typeName} from ${mac}${iface ? ` on ${iface}` : ''} cannot be answered: ${why}`);
    return null;
  }

  /**
   * Decode and handle one datagram. Never rejects; malformed input is dropped
   * and counted. `buf` must not be reused until the promise settles (the
   * decoded message views it).
   */
  handleBuffer(buf: Buffer, ingress: Ingress): Promise<Reply | null> {
    let msg: DhcpMessage;
    try {
      msg = decode(buf);
    } catch (e) {
      if (e instanceof DhcpDecodeError) return Promise.resolve(this.drop('malformed_' + e.reason, { src: ingress.srcAddress, error: e.message }));
      return Promise.resolve(this.drop('malformed', { src: ingress.srcAddress }));
    }
    return this.handle(msg, ingress);
  }

  /**
   * Handle one decoded request. Never rejects. Only what waits (a lease
   * write, an ARP probe) is asynchronous inside: one promise per request.
   */
  handle(msg: DhcpMessage, ingress: Ingress): Promise<Reply | null> {
    let r: Reply | null | Promise<Reply | null>;
    try {
      r = this.dispatch(msg, ingress);
    } catch (e) {
      return Promise.resolve(this.failed(e));
    }
    return r instanceof Promise ? r.catch((e: unknown) => this.failed(e)) : Promise.resolve(r);
  }

  private failed(e: unknown): null {
    if (e instanceof DhcpDecodeError) return this.drop('bad_option', { error: e.message });
    this.log.warn({ event: 'dhcp.error', err: (e as Error).message, stack: (e as Error).stack }, 'request failed');
    return this.drop('internal');
  }

  private dispatch(req: DhcpMessage, ingress: Ingress): Reply | null | Promise<Reply | null> {
    if (req.op !== BOOTREQUEST) return this.drop('not_request');
    if (req.hlen === 0) return this.drop('no_chaddr');
    const type = messageType(req);
    if (type === undefined) return this.drop('bootp');
    const typeName = MESSAGE_TYPE_NAMES[type];
    if (!typeName || type === DHCPOFFER || type === DHCPACK || type === DHCPNAK) return this.drop('bad_message_type');
    (this.requestCounters[type] ??= this.telemetry.counter(M + 'requests_total', { type: typeName.toLowerCase() })).inc();

    const mac = chaddrToMac(req);
    const key = clientKey(req.options, req.htype, req.chaddr.subarray(0, req.hlen).toString('hex'));
    // RFC 3396 concatenation lets an identifier outgrow one option; nothing that long is stored.
    if (key.length > CLIENT_KEY_MAX) return this.drop('client_id_too_long', { mac });
    if (this.config.mode === 'proxy' || this.onProxyPort(ingress)) return this.proxy(req, type, ingress, mac, key);

    const subnet = this.selectSubnet(req, ingress);
    if (!subnet) return this.unanswerable('no_subnet', req, ingress, mac, typeName);
    // A proxy subnet beside authoritative ones (LTSP's layout): boot info only.
    if (subnet.proxy) return this.proxy(req, type, ingress, mac, key);
    const serverId = this.serverIdFor(ingress, subnet);
    if (!serverId) return this.unanswerable('no_server_address', req, ingress, mac, typeName);
    const pool = this.leases!.poolFor(subnet);
    if (!pool) return this.drop('no_pool', { mac, subnet: subnet.subnet }); // config and store out of step: never expected

    switch (type) {
      case DHCPDISCOVER:
        if (this.pendingWrites >= this.maxPendingWrites / 2) return this.drop('overload', { mac });
        return this.discover(req, ingress, mac, key, subnet, pool, serverId);
      case DHCPREQUEST:
        return this.request(req, ingress, mac, key, subnet, pool, serverId);
      case DHCPDECLINE:
        return this.decline(req, ingress, mac, key, subnet, serverId);
      case DHCPRELEASE:
        return this.release(req, ingress, mac, key, serverId);
      case DHCPINFORM:
        return this.inform(req, ingress, mac, key, subnet, serverId);
      default:
        return this.drop('bad_message_type');
    }
  }

  // ------------------------------------------------------------ selection

  private inSubnet(s: SubnetConfig, ip: string | undefined): boolean {
    if (!ip || ip === ZERO) return false;
    const n = parseIpv4(ip);
    if (n < 0) return false;
    const { net, mask } = netOf(s);
    return ((n & mask) >>> 0) === net;
  }

  /**
   * RFC 2131 §4.3.1: relayed -> the subnet of giaddr; else the ingress
   * interface (a subnet bound to it by name, else one holding one of its
   * addresses); else the address the datagram arrived on; a unicast renewal
   * arriving on a wildcard socket -> the subnet of ciaddr.
   */
  selectSubnet(req: DhcpMessage, ingress: Ingress): SubnetConfig | undefined {
    const subnets = this.config.subnets;
    if (req.giaddr !== ZERO) return subnets.find((s) => this.inSubnet(s, req.giaddr));
    if (ingress.iface) {
      const named = subnets.filter((s) => s.interface === ingress.iface);
      if (named.length === 1) return named[0];
      const addrs = ingress.addresses ?? (ingress.localAddress ? [ingress.localAddress] : []);
      const cands = named.length ? named : subnets.filter((s) => !s.interface || s.interface === ingress.iface);
      for (const a of addrs) {
        const s = cands.find((x) => this.inSubnet(x, a));
        if (s) return s;
      }
      if (named.length) return named[0];
      return undefined;
    }
    const byLocal = subnets.find((s) => this.inSubnet(s, ingress.localAddress));
    if (byLocal) return byLocal;
    const byCi = subnets.find((s) => this.inSubnet(s, req.ciaddr));
    if (byCi) return byCi;
    // A dgram-only setup (loopback demo, a server behind relays only) with one subnet.
    return subnets.length === 1 && req.giaddr === ZERO && !ingress.iface ? subnets[0] : undefined;
  }

  private serverIdFor(ingress: Ingress, subnet?: SubnetConfig): string | undefined {
    // Several addresses on the ingress interface: the one on the client's subnet.
    if (subnet && ingress.addresses && ingress.addresses.length > 1 && !(ingress.localAddress && this.inSubnet(subnet, ingress.localAddress))) {
      const onSubnet = ingress.addresses.find((a) => this.inSubnet(subnet, a));
      if (onSubnet) return onSubnet;
    }
    const local = ingress.localAddress && ingress.localAddress !== ZERO ? ingress.localAddress : undefined;
    if (local) return local;
    if (this.server) return this.server;
    if (subnet?.router && this.config.address === subnet.router) return subnet.router;
    return this.config.address !== ZERO ? this.config.address : undefined;
  }

  /** The datagram came to the PXE boot server port (4011), which only proxyDHCP serves. */
  private onProxyPort(ingress: Ingress): boolean {
    return ingress.localPort === this.config.proxy_port && this.config.proxy_port !== this.config.port;
  }

  private ours(serverId: string, claimed: string): boolean {
    return claimed === serverId || claimed === this.server || claimed === this.config.address;
  }

  // ------------------------------------------------------------ facts & plan

  private facts(req: DhcpMessage, ingress: Ingress, mac: string, serverAddress: string | undefined, ip?: string): ClientFacts {
    const o = req.options;
    // Every field from the start: one object shape for all clients (the plan reads these per request).
    const f: ClientFacts = {
      mac, arch: undefined, vendorClass: undefined, userClasses: undefined, ipxeOptions: undefined, uuid: undefined, iface: undefined,
      relay: undefined, serverAddress: undefined, ip: undefined, proxy: undefined, bootServer: undefined, bootItem: undefined,
    };
    // Each option is read on its own: one malformed option must not hide the others.
    if (o.has(OPT.CLIENT_ARCH)) {
      try {
        const arch = readClientArch(o);
        if (arch && arch.length) f.arch = arch[0];
      } catch {
        this.telemetry.count(M + 'bad_options_total');
      }
    }
    const vc = readString(o, OPT.VENDOR_CLASS);
    if (vc !== undefined) f.vendorClass = vc;
    const uc = readUserClasses(o);
    if (uc && uc.length) f.userClasses = uc;
    if (o.has(OPT.IPXE)) {
      f.ipxeOptions = true;
      try {
        readIpxeOptions(o); // validated for the count; presence is what matters
      } catch {
        this.telemetry.count(M + 'bad_options_total');
      }
    }
    if (o.has(OPT.UUID)) {
      try {
        const uuid = readUuid(o);
        if (uuid) f.uuid = uuid;
      } catch {
        this.telemetry.count(M + 'bad_options_total');
      }
    }
    if (this.onProxyPort(ingress)) {
      f.bootServer = true;
      // PXE 2.1 §2.2.5: a boot server request names the menu item it wants in 43.71.
      try {
        const item = readPxeOptions(o)?.get(PXE_SUB.BOOT_ITEM);
        if (item && item.length >= 2) f.bootItem = item.readUInt16BE(0);
      } catch {
        this.telemetry.count(M + 'bad_options_total');
      }
    }
    if (ingress.iface) f.iface = ingress.iface;
    if (req.giaddr !== ZERO) f.relay = req.giaddr;
    const sa = this.server ?? serverAddress;
    if (sa) f.serverAddress = sa;
    if (ip) f.ip = ip;
    else if (req.ciaddr !== ZERO) f.ip = req.ciaddr;
    return f;
  }

  private ask(facts: ClientFacts): DhcpAnswer {
    return this.planOf().dhcp(facts);
  }

  // ------------------------------------------------------------ replies

  private maxLength(req: DhcpMessage): number {
    let m: number | undefined;
    try {
      m = readU16(req.options, OPT.MAX_MESSAGE_SIZE);
    } catch {
      m = undefined;
    }
    // Option 57 counts the whole IP datagram in some clients' reading; stay safe.
    if (m === undefined || m < 576) return DEFAULT_MAX_MESSAGE;
    return Math.min(m, 1500) - 28;
  }

  /** RFC 2131 §4.1 reply addressing. */
  private destination(req: DhcpMessage, replyType: number, yiaddr: string | undefined, ingress: Ingress): Destination {
    if (req.giaddr !== ZERO) return { kind: 'relay', address: req.giaddr, port: this.config.port };
    if (replyType === DHCPNAK) return { kind: 'broadcast', port: 68 };
    if (req.ciaddr !== ZERO) return { kind: 'unicast', address: req.ciaddr, port: 68 };
    if (req.flags & FLAG_BROADCAST || !yiaddr) return { kind: 'broadcast', port: 68 };
    // Link-layer unicast needs a packet socket and an Ethernet chaddr.
    if (ingress.via !== 'packet' || req.htype !== 1 || req.hlen !== 6) return { kind: 'broadcast', port: 68 };
    return { kind: 'link', address: yiaddr, mac: chaddrToMac(req), port: 68 };
  }

  private build(ctx: ReplyContext, ingress: Ingress, to?: Destination): Reply {
    for (const h of this.handlers) h.apply(ctx);
    if (ctx.replyType === DHCPNAK && ctx.req.giaddr !== ZERO) ctx.reply.flags |= FLAG_BROADCAST; // RFC 2131 §4.3.2: the relay broadcasts the NAK
    const dest = to ?? this.destination(ctx.req, ctx.replyType, ctx.yiaddr, ingress);
    const rt = ctx.replyType;
    (this.replyCounters[rt] ??= this.telemetry.counter(M + 'replies_total', { type: MESSAGE_TYPE_NAMES[rt]!.toLowerCase() })).inc();
    const prl = ctx.req.options.get(OPT.PARAMETER_LIST);
    // A copy (the request's bytes may be reused once the reply is sent); Array.from(buffer) walks an iterator.
    const requested: number[] = prl ? new Array<number>(prl.length) : [];
    for (let i = 0; i < requested.length; i++) requested[i] = prl![i]!;
    return { message: ctx.reply, to: dest, iface: ingress.iface, from: ctx.serverId, maxLength: this.maxLength(ctx.req), requested };
  }

  private context(
    req: DhcpMessage, requestType: number, replyType: number, mac: string, key: string, facts: ClientFacts,
    answer: DhcpAnswer, subnet: SubnetConfig | undefined, serverId: string, proxy: boolean,
  ): ReplyContext {
    return {
      req, reply: replyTo(req), requestType, replyType, mac, key, facts, answer, subnet, config: this.config, serverId,
      yiaddr: undefined, leaseSeconds: undefined, proxy, message: undefined,
    };
  }

  private nak(req: DhcpMessage, ingress: Ingress, mac: string, key: string, serverId: string, why: string): Reply {
    const facts: ClientFacts = { mac };
    const answer: DhcpAnswer = {
      stage: 'plain', firmware: 'unknown', host: undefined, fixedIp: undefined, boot: false, bootfile: undefined, nextServer: undefined,
      vendorClass: undefined, hostname: undefined, rootPath: undefined, initiatorIqn: undefined, discoveryControl: undefined, pxe43: undefined,
      serverName: undefined, redirect: undefined, ipxeNoPxeDhcp: false, notPxe: undefined, reason: why,
    };
    const ctx = this.context(req, DHCPREQUEST, DHCPNAK, mac, key, facts, answer, undefined, serverId, false);
    ctx.message = why;
    this.telemetry.bootEvent(this.log, { svc: 'dhcp', event: 'dhcp.nak', mac, iface: ingress.iface, requested: readIpSafe(req, OPT.REQUESTED_IP) ?? req.ciaddr, reason: why });
    return this.build(ctx, ingress);
  }

  // ------------------------------------------------------------ messages

  private leaseSecondsFor(subnet: SubnetConfig): number {
    return subnet.lease;
  }

  /** The fixed address of a static host, if it belongs to this subnet. */
  private fixedIn(answer: DhcpAnswer, subnet: SubnetConfig): string | undefined {
    return answer.fixedIp && this.inSubnet(subnet, answer.fixedIp) ? answer.fixedIp : undefined;
  }

  private foundFree(ip: string): boolean {
    const until = this.probedFree.get(ip);
    return until !== undefined && until > this.now();
  }

  private markFree(ip: string): void {
    this.probedFree.delete(ip);
    this.probedFree.set(ip, this.now() + OFFER_HOLD_MS);
    if (this.probedFree.size > this.factsCapacity) this.probedFree.delete(this.probedFree.keys().next().value!);
  }

  /** Probe addresses never leased before (arp_probe), and a static address a client DECLINEd: a reply means someone squats on it. */
  private mustProbe(a: Allocation | null): a is Allocation {
    return !!a && (!!a.probe || (a.fresh && this.config.arp_probe && !this.foundFree(a.ip)));
  }

  private discover(req: DhcpMessage, ingress: Ingress, mac: string, key: string, subnet: SubnetConfig, pool: Pool, serverId: string): Reply | null | Promise<Reply | null> {
    // One probe per client at a time: a DISCOVER arriving meanwhile (a retransmission, the next
    // firmware stage) waits for it, then gets the address it found free without probing again.
    const inFlight = this.probing.get(key);
    if (inFlight) return inFlight.then(() => this.discover(req, ingress, mac, key, subnet, pool, serverId));
    const facts0 = this.facts(req, ingress, mac, serverId);
    const answer = this.ask(facts0);
    const fixed = this.fixedIn(answer, subnet);
    const requested = readIpSafe(req, OPT.REQUESTED_IP);
    const alloc = this.leases!.allocate(pool, key, mac, { fixed, requested });
    if (this.probe && this.mustProbe(alloc)) return this.probeThenOffer(req, ingress, mac, key, subnet, pool, serverId, facts0, answer, fixed, requested, alloc);
    return this.offer(req, ingress, mac, key, subnet, serverId, facts0, answer, fixed, alloc);
  }

  private async probeThenOffer(
    req: DhcpMessage, ingress: Ingress, mac: string, key: string, subnet: SubnetConfig, pool: Pool, serverId: string,
    facts0: ClientFacts, answer: DhcpAnswer, fixed: string | undefined, requested: string | undefined, first: Allocation,
  ): Promise<Reply | null> {
    const store = this.leases!;
    let alloc: Allocation | null = first;
    let done!: () => void;
    this.probing.set(key, new Promise<void>((r) => (done = r)));
    try {
      // At most 3 probes: 3 x 250 ms stays under iPXE's first retransmission (1 s; PXE ROMs: 4 s).
      for (let tries = 0; this.mustProbe(alloc) && tries < 3; tries++) {
        let inUse = false;
        try {
          inUse = await this.probe!(alloc.ip, ingress);
        } catch {
          inUse = false;
        }
        if (!inUse) {
          this.markFree(alloc.ip);
          break;
        }
        this.telemetry.count(M + 'conflicts_total', { source: 'arp' });
        this.log.warn({ event: 'dhcp.conflict', mac, ip: alloc.ip }, fixed ? 'static address answers ARP; not offered while it does' : 'address answers ARP; quarantined');
        await store.conflict(alloc.ip);
        if (fixed) return this.drop('static_address_in_use', { mac, ip: fixed });
        alloc = store.allocate(pool, key, mac, { requested });
      }
    } finally {
      this.probing.delete(key);
      done();
    }
    return this.offer(req, ingress, mac, key, subnet, serverId, facts0, answer, fixed, alloc);
  }

  private offer(
    req: DhcpMessage, ingress: Ingress, mac: string, key: string, subnet: SubnetConfig, serverId: string,
    facts0: ClientFacts, answer: DhcpAnswer, fixed: string | undefined, alloc: Allocation | null,
  ): Reply | null {
    if (!alloc) return this.drop(subnet.range || fixed ? 'pool_exhausted' : 'no_address', { mac, subnet: subnet.subnet });
    this.leases!.offer(key, mac, alloc.ip);
    facts0.ip = alloc.ip;
    // Ask again with the address known, so templates using {ip} expand.
    if (!fixed && answer.boot && this.planOf().templatesUseIp !== false) answer = this.ask(facts0);
    const ctx = this.context(req, DHCPDISCOVER, DHCPOFFER, mac, key, facts0, answer, subnet, serverId, false);
    ctx.yiaddr = alloc.ip;
    ctx.leaseSeconds = this.leaseSecondsFor(subnet);
    this.remember(alloc.ip, facts0, ctx.leaseSeconds);
    this.telemetry.bootEvent(this.log, {
      svc: 'dhcp', event: 'dhcp.offer', mac, iface: ingress.iface, ip: alloc.ip, hostname: answer.hostname, stage: answer.stage, firmware: answer.firmware,
      bootfile: answer.boot ? answer.bootfile : undefined, reason: answer.reason,
    });
    return this.build(ctx, ingress);
  }

  private request(req: DhcpMessage, ingress: Ingress, mac: string, key: string, subnet: SubnetConfig, pool: Pool, serverId: string): Reply | null | Promise<Reply | null> {
    if (this.pendingWrites >= this.maxPendingWrites) return this.drop('overload', { mac });
    const store = this.leases!;
    const sid = readIpSafe(req, OPT.SERVER_ID);
    const requested = readIpSafe(req, OPT.REQUESTED_IP);
    let ip: string;
    let state: 'selecting' | 'init-reboot' | 'renewing' | 'rebinding';
    if (sid !== undefined) {
      // SELECTING: the client chose a server.
      state = 'selecting';
      if (!this.ours(serverId, sid)) {
        store.dropOffer(key);
        this.telemetry.count(M + 'other_server_total');
        this.log.debug({ event: 'dhcp.other_server', mac, server: sid }, 'client chose another server');
        return null;
      }
      if (!requested) return this.drop('no_requested_ip', { mac });
      ip = requested;
    } else if (requested !== undefined && req.ciaddr === ZERO) {
      state = 'init-reboot';
      ip = requested;
    } else if (req.ciaddr !== ZERO) {
      state = ingress.broadcast ? 'rebinding' : 'renewing';
      ip = req.ciaddr;
    } else {
      return this.drop('request_without_address', { mac });
    }

    if (!this.inSubnet(subnet, ip)) {
      // Wrong network (moved client): authoritative -> NAK so it restarts at once.
      if (state === 'rebinding' && req.giaddr === ZERO && !this.config.subnets.some((s) => this.inSubnet(s, ip))) {
        return this.drop('rebinding_foreign', { mac, ip });
      }
      return this.nak(req, ingress, mac, key, serverId, `${ip} is not on this network (${subnet.subnet})`);
    }
    const facts0 = this.facts(req, ingress, mac, serverId, ip);
    const answer = this.ask(facts0);
    const fixed = this.fixedIn(answer, subnet);
    if (fixed && fixed !== ip) return this.nak(req, ingress, mac, key, serverId, `${mac} has the fixed address ${fixed}`);
    const mine = store.leaseOf(key);
    // Its own lease is renewed only while the address is still its fixed one or in the range:
    // after a reload that shrank the range, a NAK moves the client into the new range.
    const inRangeOrFixed = fixed === ip || store.inRange(pool, ipv4ToNumber(ip));
    const allowed = inRangeOrFixed && ((mine && mine.ip === ip) || store.available(pool, ip, key, mac));
    if (!allowed) return this.nak(req, ingress, mac, key, serverId, `${ip} is not available`);

    const seconds = this.leaseSecondsFor(subnet);
    const hostnameOpt = readString(req.options, OPT.HOSTNAME);
    // Not on disk = not promised: no ACK (the client retries).
    const journalError = (e: unknown): null => {
      this.pendingWrites--;
      this.log.error({ event: 'dhcp.journal_error', mac, ip, err: (e as Error).message }, 'lease journal write failed');
      return this.drop('journal_error', { mac });
    };
    let written: Promise<unknown>;
    this.pendingWrites++;
    const hostname = answer.hostname ?? hostnameOpt;
    try {
      written = store.bind(key, mac, ip, seconds, hostname);
    } catch (e) {
      return journalError(e);
    }
    return written.then(() => {
      this.pendingWrites--;
      const ctx = this.context(req, DHCPREQUEST, DHCPACK, mac, key, facts0, answer, subnet, serverId, false);
      ctx.yiaddr = ip;
      ctx.leaseSeconds = seconds;
      this.remember(ip, facts0, seconds);
      this.telemetry.bootEvent(this.log, {
        svc: 'dhcp', event: 'dhcp.ack', mac, iface: ingress.iface, ip, hostname, state, stage: answer.stage, firmware: answer.firmware,
        bootfile: answer.boot ? answer.bootfile : undefined, reason: answer.reason,
      });
      return this.build(ctx, ingress);
    }, journalError);
  }

  /**
   * RFC 2131 §4.3.3 / table 5: DECLINE MUST carry option 54 and 50. Only our
   * client's own address on its own subnet is quarantined; anything else
   * would let any host knock addresses (static ones too) out of service.
   */
  private async decline(req: DhcpMessage, ingress: Ingress, mac: string, key: string, subnet: SubnetConfig, serverId: string): Promise<null> {
    const sid = readIpSafe(req, OPT.SERVER_ID);
    if (sid === undefined) return this.drop('decline_without_server_id', { mac });
    if (!this.ours(serverId, sid)) return this.drop('other_server', { mac });
    const ip = readIpSafe(req, OPT.REQUESTED_IP);
    if (!ip) return this.drop('decline_without_address', { mac });
    if (!this.inSubnet(subnet, ip)) return this.drop('decline_foreign_subnet', { mac, ip, subnet: subnet.subnet });
    if (!(await this.leases!.decline(key, ip))) return this.drop('decline_not_client_address', { mac, ip });
    this.factsByIp.delete(ip);
    this.telemetry.count(M + 'conflicts_total', { source: 'decline' });
    this.telemetry.bootEvent(this.log, { svc: 'dhcp', event: 'dhcp.decline', mac, iface: ingress.iface, ip });
    return null;
  }

  private async release(req: DhcpMessage, ingress: Ingress, mac: string, key: string, serverId: string): Promise<null> {
    const sid = readIpSafe(req, OPT.SERVER_ID);
    if (sid !== undefined && !this.ours(serverId, sid)) return this.drop('other_server', { mac });
    const ok = await this.leases!.release(key, req.ciaddr);
    if (!ok) return this.drop('release_unknown', { mac, ip: req.ciaddr });
    this.factsByIp.delete(req.ciaddr);
    this.telemetry.bootEvent(this.log, { svc: 'dhcp', event: 'dhcp.release', mac, iface: ingress.iface, ip: req.ciaddr });
    return null;
  }

  private inform(req: DhcpMessage, ingress: Ingress, mac: string, key: string, subnet: SubnetConfig, serverId: string): Reply | null {
    // RFC 2131 §4.3.5: the reply goes to ciaddr, so answer only a client on the ingress
    // subnet (or one behind a relay): else anyone could aim our replies at
    // any address, and at one that never answers ARP.
    if (req.giaddr === ZERO && !this.informOnLink(req.ciaddr, ingress, subnet)) {
      return this.drop('inform_not_on_link', { mac, ciaddr: req.ciaddr, iface: ingress.iface });
    }
    const facts0 = this.facts(req, ingress, mac, serverId);
    const answer = this.ask(facts0);
    const ctx = this.context(req, DHCPINFORM, DHCPACK, mac, key, facts0, answer, subnet, serverId, false);
    this.remember(req.ciaddr, facts0, this.leaseSecondsFor(subnet));
    this.telemetry.bootEvent(this.log, { svc: 'dhcp', event: 'dhcp.inform', mac, iface: ingress.iface, ip: req.ciaddr, stage: answer.stage });
    // RFC 2131 §4.3.5: reply to ciaddr (the client has an address); relayed -> relay.
    const to: Destination | undefined =
      req.giaddr === ZERO && req.ciaddr !== ZERO ? { kind: 'unicast', address: req.ciaddr, port: 68 } : undefined;
    return this.build(ctx, ingress, to);
  }

  /** Is ciaddr on the subnet the request came in on (the ingress interface's, or the one our receiving address is on)? */
  private informOnLink(ciaddr: string, ingress: Ingress, subnet: SubnetConfig): boolean {
    if (!this.inSubnet(subnet, ciaddr)) return false;
    if (ingress.iface) return true; // packet socket: selectSubnet chose by the ingress interface
    const local = ingress.localAddress ?? (this.config.address !== ZERO ? this.config.address : undefined);
    return local !== undefined && this.inSubnet(subnet, local);
  }

  // ------------------------------------------------------------ proxyDHCP

  /**
   * proxyDHCP (docs/boot-flow.md §5, as dnsmasq and pixiecore do it): answer PXE
   * clients only, never with an address; on port 67 a DISCOVER gets an OFFER
   * with boot information, on the proxy port (4011) a REQUEST gets an ACK.
   * Nothing is written to disk: the answer leaves at once (iPXE waits 2 s).
   */
  private proxy(req: DhcpMessage, type: number, ingress: Ingress, mac: string, key: string): Reply | null {
    const serverId = this.serverIdFor(ingress);
    const facts0 = this.facts(req, ingress, mac, serverId);
    facts0.proxy = true;
    // Who gets a proxy answer (PXE ROMs, UEFI HTTP boot) is the plan's decision.
    const answer = this.ask(facts0);
    if (!answer.boot) return this.drop(answer.notPxe ? 'proxy_not_pxe' : 'proxy_no_boot', { mac, reason: answer.reason });
    const onProxyPort = ingress.localPort === this.config.proxy_port && this.config.proxy_port !== this.config.port;
    let replyType: number;
    if (!onProxyPort && type === DHCPDISCOVER) replyType = DHCPOFFER;
    else if (onProxyPort && (type === DHCPREQUEST || type === DHCPINFORM)) replyType = DHCPACK;
    else if (!onProxyPort && type === DHCPREQUEST) {
      // Broadcast REQUEST to the real server; only answer if it names us.
      const sid = readIpSafe(req, OPT.SERVER_ID);
      if (!sid || !serverId || !this.ours(serverId, sid)) return this.drop('proxy_not_ours', { mac });
      replyType = DHCPACK;
    } else return this.drop('proxy_ignored', { mac, type });
    if (!serverId) return this.unanswerable('no_server_address', req, ingress, mac, MESSAGE_TYPE_NAMES[type] ?? String(type));
    const subnet = this.selectSubnet(req, ingress);
    const ctx = this.context(req, type, replyType, mac, key, facts0, answer, subnet, serverId, true);
    // A boot server ACK for a menu item carries the client's address (PXE 2.1 §2.2.5).
    if (onProxyPort && facts0.bootItem !== undefined && req.ciaddr !== ZERO) ctx.yiaddr = req.ciaddr;
    // The address the client will fetch its bootfile from (TFTP quirks look it up).
    const clientIp = req.ciaddr !== ZERO ? req.ciaddr : onProxyPort ? ingress.srcAddress : undefined;
    if (clientIp) this.remember(clientIp, facts0, PROXY_FACTS_SECONDS);
    // proxyDHCP never offers an address: PXE ROMs ignore offers with one from a proxy.
    const to: Destination | undefined = onProxyPort
      ? { kind: 'unicast', address: clientIp!, port: ingress.srcPort }
      : req.giaddr !== ZERO
        ? { kind: 'relay', address: req.giaddr, port: this.config.port }
        : { kind: 'broadcast', port: 68 };
    this.telemetry.bootEvent(this.log, {
      svc: 'dhcp', event: replyType === DHCPOFFER ? 'dhcp.proxy_offer' : 'dhcp.proxy_ack', mac, iface: ingress.iface, stage: answer.stage,
      firmware: answer.firmware, bootfile: answer.bootfile, reason: answer.reason,
    });
    return this.build(ctx, ingress, to);
  }
}

function readIpSafe(req: DhcpMessage, code: number): string | undefined {
  try {
    return readIp(req.options, code);
  } catch {
    return undefined;
  }
}
