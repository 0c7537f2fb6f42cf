/**
 * UDP sockets for the services (dgram): listening sockets, transfer ports,
 * and sends bounded per destination (see BoundedSender).
 */
import dgram from 'node:dgram';

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
