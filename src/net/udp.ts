/**
 * UDP sockets for the services (dgram), plus the interface MTU lookup the
 * TFTP server needs to cap blksize. The only place TFTP touches the network.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';

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

/**
 * Binds transfer ports, inside a fixed range (for NAT/containers) or
 * anywhere. Both sockets of a port use SO_REUSEADDR, which also lets the
 * kernel hand out a port another transfer of ours holds: such ports are
 * tracked here and skipped.
 */
export class PortAllocator {
  private cursor: number;
  private readonly used = new Set<number>();
  constructor(
    private readonly address: string,
    private readonly range?: [number, number],
  ) {
    this.cursor = range ? range[0] : 0;
  }

  private async pair(port: number): Promise<TransferPort | undefined> {
    const sock = await bindOnce(this.address, port, true);
    const p = sock.address().port;
    if (this.used.has(p)) {
      sock.close();
      return undefined;
    }
    let stray: UdpSocket;
    try {
      stray = await bindOnce(this.address, p, true);
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

  async open(): Promise<TransferPort> {
    if (!this.range) {
      for (let i = 0; i < 64; i++) {
        const t = await this.pair(0);
        if (t) return t;
      }
      throw new Error('no free ephemeral port');
    }
    const [lo, hi] = this.range;
    const n = hi - lo + 1;
    for (let i = 0; i < n; i++) {
      const port = this.cursor;
      this.cursor = port >= hi ? lo : port + 1;
      if (this.used.has(port)) continue;
      try {
        const t = await this.pair(port);
        if (t) return t;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' && code !== 'EACCES') throw e;
      }
    }
    const err = new Error(`no free port in ${lo}-${hi}`) as NodeJS.ErrnoException;
    err.code = 'EADDRINUSE';
    throw err;
  }
}

function ip4(a: string): number {
  const p = a.split('.');
  if (p.length !== 4) return -1;
  let n = 0;
  for (const x of p) {
    const v = Number(x);
    if (!Number.isInteger(v) || v < 0 || v > 255) return -1;
    n = n * 256 + v;
  }
  return n >>> 0;
}

function inSubnet(addr: number, net: number, mask: number): boolean {
  return ((addr & mask) >>> 0) === ((net & mask) >>> 0);
}

function readMtu(iface: string): number | undefined {
  try {
    const v = Number(fs.readFileSync(`/sys/class/net/${iface}/mtu`, 'utf8').trim());
    return Number.isFinite(v) && v > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Longest-prefix match in the main routing table (/proc/net/route, little-endian hex). */
function routeIface(peer: number): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/net/route', 'utf8');
  } catch {
    return undefined;
  }
  let best: string | undefined;
  let bestLen = -1;
  const le = (h: string) => {
    const v = parseInt(h, 16) >>> 0;
    return (((v & 0xff) << 24) | ((v >>> 8) & 0xff) << 16 | ((v >>> 16) & 0xff) << 8 | (v >>> 24)) >>> 0;
  };
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = le(f[1]!);
    const mask = le(f[7]!);
    const flags = parseInt(f[3]!, 16);
    if (!(flags & 1)) continue; // RTF_UP
    let len = 0;
    for (let m = mask; m; m = (m << 1) >>> 0) len++;
    if (inSubnet(peer, dest, mask) && len > bestLen) {
      best = f[0];
      bestLen = len;
    }
  }
  return best;
}

const mtuCache = new Map<string, { mtu: number; until: number }>();

/**
 * MTU of the interface that carries traffic between `local` (our address,
 * possibly 0.0.0.0) and `peer`: an interface whose subnet holds the peer,
 * else the one owning `local`, else the route to the peer. Loopback peers
 * get lo's MTU (65536). Falls back to 1500 when nothing is known.
 */
export function interfaceMtu(peer: string, local: string): number {
  const key = `${peer}|${local}`;
  const now = Date.now();
  const hit = mtuCache.get(key);
  if (hit && hit.until > now) return hit.mtu;
  const p = ip4(peer);
  const l = ip4(local);
  let iface: string | undefined;
  const ifs = os.networkInterfaces();
  for (const [name, addrs] of Object.entries(ifs)) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4') continue;
      if (inSubnet(p, ip4(a.address), ip4(a.netmask))) iface ??= name;
    }
  }
  if (!iface && l > 0) {
    for (const [name, addrs] of Object.entries(ifs)) {
      if ((addrs ?? []).some((a) => a.family === 'IPv4' && a.address === local)) iface ??= name;
    }
  }
  iface ??= routeIface(p);
  const mtu = (iface && readMtu(iface)) || 1500;
  if (mtuCache.size > 4096) mtuCache.clear();
  mtuCache.set(key, { mtu, until: now + 30_000 });
  return mtu;
}
