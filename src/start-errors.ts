/**
 * Why a service could not start, said the way an operator can act on it: the
 * service, what is in the way, and the fix. A bare "bind EADDRINUSE" on a
 * router that still runs dnsmasq is the first thing people meet.
 */
export type ServiceName = 'dhcp' | 'tftp' | 'http' | 'rpl' | 'admin';

export class StartError extends Error {
  constructor(
    readonly svc: ServiceName,
    override readonly cause: NodeJS.ErrnoException,
    readonly hint: string | undefined,
  ) {
    super(`${svc}: ${cause.message}${hint ? `. ${hint[0]!.toUpperCase()}${hint.slice(1)}` : ''}`);
    this.name = 'StartError';
  }

  get code(): string | undefined {
    return this.cause.code;
  }
}

/** What the service was opening, as far as the caller knows. */
export interface StartContext {
  address?: string;
  port?: number;
  /** A directory the service serves from (tftp.root). */
  root?: string;
}

const PORT_HOLDERS: Record<ServiceName, string> = {
  dhcp:
    'is dnsmasq (or isc-dhcp-server, kea, odhcpd) still running? Stop its DHCP (dnsmasq: drop its dhcp-range lines, ' +
    'or on OpenWrt `uci set dhcp.lan.ignore=1`)',
  tftp: "is dnsmasq's TFTP (enable-tftp) or tftpd-hpa / atftpd running? Stop it, or set tftp.port",
  http: "another web server has it (nginx, apache, lighttpd, OpenWrt's uhttpd): stop it, or set http.port",
  rpl: 'is rpld still running? Stop it: both listen for the same LLC frames',
  admin: 'set admin.port to a free port',
};

const CONFIG_KEY: Record<ServiceName, string> = {
  dhcp: 'interfaces',
  rpl: 'rpl.interfaces (or interfaces)',
  tftp: 'tftp.address',
  http: 'http.address',
  admin: 'admin.address',
};

/** The hint for one failure, or undefined when there is nothing better to say than the error itself. */
export function startHint(svc: ServiceName, e: NodeJS.ErrnoException, ctx: StartContext = {}): string | undefined {
  // Node's bind errors name the port and address they failed on (DHCP may fail on 67 or on 4011).
  const failed = e as NodeJS.ErrnoException & { port?: number; address?: string };
  const port = failed.port ?? ctx.port;
  const address = failed.address ?? ctx.address;
  const where = port !== undefined ? `port ${port}` : 'its port';
  const iface = (e as { ifname?: string }).ifname ?? /^(?:packet socket on )?([^:\s]+):/.exec(e.message)?.[1];
  switch (e.code) {
    case 'EADDRINUSE':
      return `${where} is in use: ${PORT_HOLDERS[svc]}`;
    case 'EACCES':
      if (ctx.root) return `cannot read ${ctx.root}: give the service user access, or point ${svc}.root elsewhere`;
      return `ports below 1024 need root or CAP_NET_BIND_SERVICE (the unit from \`lanboot install-service\` grants it)`;
    case 'EPERM':
      return 'packet sockets need root or CAP_NET_RAW (the unit from `lanboot install-service` grants it)';
    case 'ENODEV':
      return `there is no network interface ${iface ? `"${iface}"` : 'of that name'} (\`ip -br link\` lists them): fix ${CONFIG_KEY[svc]}`;
    case 'EADDRNOTAVAIL':
      return `${address ?? 'that address'} is not an address of this machine: fix ${svc}.address, or use 0.0.0.0`;
    case 'ENOENT':
    case 'ENOTDIR':
      if (ctx.root) return `${ctx.root} does not exist: create it and put the boot files there, or point ${svc}.root at them`;
      return undefined;
    default:
      return undefined;
  }
}

/** Run one service's start; a failure becomes a StartError naming the service and the fix. */
export async function starting<T>(svc: ServiceName, ctx: StartContext, start: () => Promise<T> | T): Promise<T> {
  try {
    return await start();
  } catch (e) {
    if (e instanceof StartError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new StartError(svc, err, startHint(svc, err, ctx));
  }
}
