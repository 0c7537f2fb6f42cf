/**
 * What the services need to know about a local interface: index, MAC, MTU
 * and IPv4 addresses (DHCP's server identifier and subnet, RPL's own MAC).
 * Reads /sys/class/net (links, including those without addresses) and
 * os.networkInterfaces() (addresses) for the current network namespace.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

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
    throw Object.assign(new Error(`no such network interface: ${JSON.stringify(ifname)}`), { code: 'ENODEV' });
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
