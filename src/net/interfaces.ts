/**
 * What the services need to know about local interfaces and routes: index,
 * MAC, MTU and IPv4 addresses (DHCP's server identifier and subnet, RPL's own
 * MAC), which local address faces a peer, the route to a peer, and the MTU
 * towards it (TFTP's blksize cap). Reads /sys/class/net (links, including
 * those without addresses), os.networkInterfaces() (addresses) and
 * /proc/net/route for the current network namespace.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { inPrefix, parseIpv4, prefixMask } from './address.js';

export interface Ipv4Address {
  address: string;
  prefix: number;
  netmask: string;
}

export interface InterfaceInfo {
  ifname: string;
  ifindex: number;
  /** lower-case aa:bb:cc:dd:ee:ff ('00:00:00:00:00:00' for lo) */
  mac: string;
  mtu: number;
  /** IFF_UP */
  up: boolean;
  loopback: boolean;
  ipv4: Ipv4Address[];
}

const SYS = '/sys/class/net';
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;

function sysRead(ifname: string, attr: string): string {
  return readFileSync(`${SYS}/${ifname}/${attr}`, 'utf8').trim();
}

function validName(ifname: string): boolean {
  return typeof ifname === 'string' && ifname.length > 0 && ifname.length < 16 && !/[/\s]/.test(ifname) && ifname !== '.' && ifname !== '..';
}

/** Throws an Error with code ENODEV when the interface does not exist. */
export function interfaceInfo(ifname: string): InterfaceInfo {
  if (!validName(ifname) || !existsSync(`${SYS}/${ifname}/ifindex`)) {
    throw Object.assign(new Error(`no such network interface: ${JSON.stringify(ifname)}`), { code: 'ENODEV', ifname });
  }
  const flags = parseInt(sysRead(ifname, 'flags'), 16);
  const addrs = networkInterfaces()[ifname] ?? [];
  return {
    ifname,
    ifindex: Number(sysRead(ifname, 'ifindex')),
    mac: sysRead(ifname, 'address').toLowerCase(),
    mtu: Number(sysRead(ifname, 'mtu')),
    up: (flags & IFF_UP) !== 0,
    loopback: (flags & IFF_LOOPBACK) !== 0,
    ipv4: addrs
      .filter((a) => a.family === 'IPv4')
      .map((a) => ({ address: a.address, prefix: Number(a.cidr?.split('/')[1] ?? 32), netmask: a.netmask })),
  };
}

/** Every interface of this namespace, sorted by ifindex. */
export function listInterfaces(): InterfaceInfo[] {
  const out: InterfaceInfo[] = [];
  for (const name of readdirSync(SYS)) {
    try {
      out.push(interfaceInfo(name));
    } catch {
      // vanished between readdir and read, or not a netdev (bonding_masters)
    }
  }
  return out.sort((a, b) => a.ifindex - b.ifindex);
}

/**
 * The interfaces holding IPv4 addresses now, from one getifaddrs() (cheap
 * enough to repeat every few seconds). Like os.networkInterfaces(), it leaves
 * out interfaces that are not up and running (no carrier): nothing arrives on
 * them anyway.
 */
export function addressedInterfaces(): Array<{ ifname: string; loopback: boolean; ipv4: Ipv4Address[] }> {
  const out: Array<{ ifname: string; loopback: boolean; ipv4: Ipv4Address[] }> = [];
  for (const [ifname, addrs] of Object.entries(networkInterfaces())) {
    const ipv4 = (addrs ?? []).filter((a) => a.family === 'IPv4');
    if (!ipv4.length) continue;
    out.push({
      ifname,
      loopback: ipv4.some((a) => a.internal),
      ipv4: ipv4.map((a) => ({ address: a.address, prefix: Number(a.cidr?.split('/')[1] ?? 32), netmask: a.netmask })),
    });
  }
  return out;
}

/** Every IPv4 address of this machine (all interfaces, loopback included). */
export function ownAddresses(): string[] {
  return addressedInterfaces().flatMap((i) => i.ipv4.map((a) => a.address));
}

// ---- which local address faces a peer ---------------------------------------

/** How long the address list behind localAddressFacing() is reused (it runs per datagram). */
const ADDRESSES_TTL_MS = 5000;
let addressCache: { at: number; list: Array<{ ifname: string } & Ipv4Address> } = { at: -Infinity, list: [] };

function localAddresses(): Array<{ ifname: string } & Ipv4Address> {
  const now = Date.now();
  if (now - addressCache.at > ADDRESSES_TTL_MS) {
    const list: Array<{ ifname: string } & Ipv4Address> = [];
    for (const [ifname, addrs] of Object.entries(networkInterfaces())) {
      for (const a of addrs ?? []) {
        if (a.family !== 'IPv4') continue;
        list.push({ ifname, address: a.address, netmask: a.netmask, prefix: Number(a.cidr?.split('/')[1] ?? 32) });
      }
    }
    addressCache = { at: now, list };
  }
  return addressCache.list;
}

/**
 * Our address on the peer's subnet (a relay, a TFTP client, a unicast DHCP
 * client): what the peer sees as our address when a socket bound to 0.0.0.0
 * cannot say which one a datagram came in on. Undefined when the peer is not
 * on-link (it is then reached by a route: see routeInterface).
 */
export function localAddressFacing(peer: string): ({ ifname: string } & Ipv4Address) | undefined {
  if (parseIpv4(peer) < 0) return undefined;
  return localAddresses().find((a) => inPrefix(peer, a.address, a.prefix));
}

/** The interface holding local address `address`, if any. */
export function interfaceOwning(address: string): string | undefined {
  return localAddresses().find((a) => a.address === address)?.ifname;
}

// ---- routes and MTU -------------------------------------------------------------

/** /proc/net/route writes addresses as little-endian hex. */
function routeHex(h: string): number {
  const v = parseInt(h, 16) >>> 0;
  return (((v & 0xff) << 24) | (((v >>> 8) & 0xff) << 16) | (((v >>> 16) & 0xff) << 8) | (v >>> 24)) >>> 0;
}

/** Longest-prefix match for `peer` in the main routing table: the interface a packet to it leaves by. */
export function routeInterface(peer: string): string | undefined {
  const p = parseIpv4(peer);
  if (p < 0) return undefined;
  let text: string;
  try {
    text = readFileSync('/proc/net/route', 'utf8');
  } catch {
    return undefined;
  }
  let best: string | undefined;
  let bestLen = -1;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    if (!(parseInt(f[3]!, 16) & 1)) continue; // RTF_UP
    const dest = routeHex(f[1]!);
    const mask = routeHex(f[7]!);
    let len = 0;
    for (let m = mask; m; m = (m << 1) >>> 0) len++;
    const m = prefixMask(len);
    if (((p & m) >>> 0) === ((dest & m) >>> 0) && len > bestLen) {
      best = f[0];
      bestLen = len;
    }
  }
  return best;
}

function readMtu(ifname: string): number | undefined {
  if (!validName(ifname)) return undefined;
  try {
    const v = Number(sysRead(ifname, 'mtu'));
    return Number.isFinite(v) && v > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

const MTU_TTL_MS = 30_000;
const mtuCache = new Map<string, { mtu: number; until: number }>();

/**
 * MTU of the interface that carries traffic between `local` (our address,
 * possibly 0.0.0.0) and `peer`: the one facing the peer, else the one owning
 * `local`, else the route to the peer. Loopback peers get lo's MTU (65536).
 * 1500 when nothing is known.
 */
export function interfaceMtu(peer: string, local: string): number {
  const key = `${peer}|${local}`;
  const now = Date.now();
  const hit = mtuCache.get(key);
  if (hit && hit.until > now) return hit.mtu;
  const ifname = localAddressFacing(peer)?.ifname ?? (parseIpv4(local) > 0 ? interfaceOwning(local) : undefined) ?? routeInterface(peer);
  const mtu = (ifname && readMtu(ifname)) || 1500;
  if (mtuCache.size > 4096) mtuCache.clear();
  mtuCache.set(key, { mtu, until: now + MTU_TTL_MS });
  return mtu;
}

// ---- neighbours (ARP) -----------------------------------------------------------

/** How long a read of the neighbour table is reused. */
const NEIGHBOURS_TTL_MS = 250;
const ATF_COM = 0x2;
let neighbourCache: { at: number; resolved: Set<string> } = { at: -Infinity, resolved: new Set() };

function resolvedNeighbours(maxAgeMs: number): Set<string> {
  const now = Date.now();
  if (now - neighbourCache.at > maxAgeMs) {
    const resolved = new Set<string>();
    try {
      // IP address, HW type, Flags, HW address, Mask, Device
      for (const line of readFileSync('/proc/net/arp', 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length >= 4 && parseInt(f[2]!, 16) & ATF_COM) resolved.add(f[0]!);
      }
    } catch {
      /* no /proc: nothing known */
    }
    neighbourCache = { at: now, resolved };
  }
  return neighbourCache.resolved;
}

/**
 * Can a unicast datagram to `address` leave at once, or would the kernel
 * park it (charged to the sending socket) until ARP resolves an on-link
 * address that may never answer? True for loopback, local, broadcast and
 * routed addresses (the gateway's MAC is what counts) and for on-link
 * neighbours that answered ARP; false for other on-link addresses.
 * `maxAgeMs`: how old a read of the neighbour table may be (default 250 ms).
 */
export function linkAddressKnown(address: string, maxAgeMs = NEIGHBOURS_TTL_MS): boolean {
  const n = parseIpv4(address);
  if (n < 0) return false;
  if (n >>> 24 === 127 || n === 0xffffffff) return true;
  const facing = localAddressFacing(address);
  if (!facing) return true;
  if (address === facing.address || n === ((parseIpv4(facing.address) | ~prefixMask(facing.prefix)) >>> 0)) return true;
  return resolvedNeighbours(maxAgeMs).has(address);
}
