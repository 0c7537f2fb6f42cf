/**
 * Wiring: one process runs every service the config enables. Services get a
 * narrow hooks object; every hook reads the *current* boot plan, so a reload
 * swaps one reference and new requests see the new config while transfers
 * already running keep the settings they started with.
 */
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfigInWorker } from './config/load-worker.js';
import { isWholeMac } from './net/address.js';
import type { Config } from './config/types.js';
import { resetArgv as resetArgvOf } from './hooks/reset.js';
import { loadResetKey, ResetTokens } from './hooks/reset-token.js';
import { logger, setRootLogger, makeLogger, defaultLogFormat, type Logger } from './log.js';
import { telemetry as defaultTelemetry, type Telemetry } from './telemetry.js';
import { BootPlan } from './plan/index.js';
import { localAddressFacing } from './net/interfaces.js';
import { TftpServer } from './tftp/server.js';
import { HttpServer, IP_HOST_RE } from './http/server.js';
import { RplResponder } from './rpl/responder.js';
import { RplLinks } from './rpl/links.js';
import { AdminServer } from './admin/server.js';
import { createDirs, dropPrivileges } from './privileges.js';
import { startDhcp, type DhcpRunning } from './dhcp/run.js';
import { StartError, starting } from './start-errors.js';

export interface AppOptions {
  telemetry?: Telemetry;
  log?: Logger;
  /** Paths lanboot created before start (state dirs): handed to `user:` at the privilege drop. */
  created?: string[];
}

export interface Listening {
  svc: string;
  address: string;
  port?: number;
  detail?: string;
}

export class App {
  plan: BootPlan;
  readonly listening: Listening[] = [];
  private tftp?: TftpServer;
  private http?: HttpServer;
  private rpl?: RplResponder;
  private rplLinks?: RplLinks;
  private admin?: AdminServer;
  private dhcp?: DhcpRunning;
  private resetTokens?: ResetTokens;
  readonly telemetry: Telemetry;
  private readonly log: Logger;
  private readonly created: string[];

  constructor(
    public config: Config,
    opts: AppOptions = {},
  ) {
    this.plan = new BootPlan(config);
    this.telemetry = opts.telemetry ?? defaultTelemetry;
    this.log = opts.log ?? logger('core');
    this.created = [...(opts.created ?? [])];
  }

  /** MAC holding an address: a lease, else a fixed host entry, else the last DHCP client seen using it (proxy mode). */
  macFor = (ip: string): string | undefined =>
    this.dhcp?.macFor(ip) ?? this.plan.hostByIp(ip)?.mac ?? this.dhcp?.factsFor(ip)?.mac;

  /** Address of a MAC: its fixed address, else its lease. */
  ipFor = (mac: string): string | undefined => {
    const h = this.plan.host(mac);
    return (h && isWholeMac(h.prefix_bits) ? h.ip : undefined) ?? this.dhcp?.ipFor(mac);
  };

  /**
   * Our address as a client sees it, for scripts fetched over TFTP (a socket
   * bound to 0.0.0.0 cannot tell): `server:`, else the local interface
   * address on the client's subnet.
   */
  serverFor = (clientIp: string | undefined, bound?: string): string | undefined => {
    if (this.config.server) return this.config.server;
    const facing = clientIp ? localAddressFacing(clientIp) : undefined;
    if (facing) return facing.address;
    return bound && bound !== '0.0.0.0' ? bound : undefined;
  };

  /**
   * Issues the token for a script's reset URL: only to the host's own address,
   * and over HTTP only when the Host header is an address or the name in
   * boot.script (a page on a DNS-rebound name must not read a token).
   */
  private resetTokenFor(address: string | undefined, hostHeader?: string): ((mac: string) => string | undefined) | undefined {
    const tokens = this.resetTokens;
    if (!tokens || !address) return undefined;
    if (hostHeader !== undefined && !IP_HOST_RE.test(hostHeader)) {
      const named = /^[a-z]+:\/\/([^/{}]+)\//i.exec(this.config.boot.script)?.[1];
      if (!named || named.toLowerCase() !== hostHeader.toLowerCase()) return undefined;
    }
    return (mac) => (this.ipFor(mac) === address ? tokens.issue(mac, address) : undefined);
  }

  async start(): Promise<void> {
    const c = this.config;
    const leaseFileNew = !!c.dhcp && !existsSync(c.dhcp.lease_file);
    // Read while still root (the drop below may lose access to state_dir).
    if (c.http) this.resetTokens = new ResetTokens(loadResetKey(c.state_dir, this.log).key);
    try {
      if (c.dhcp) {
        const dc = c.dhcp;
        this.dhcp = await starting('dhcp', { address: dc.address, port: dc.port }, () =>
          startDhcp(c, {
            plan: () => this.plan,
            log: logger('dhcp'),
            telemetry: this.telemetry,
          }),
        );
        for (const l of this.dhcp.listening) this.listening.push({ svc: 'dhcp', ...l });
      }
      if (c.tftp) {
        this.tftp = new TftpServer(c.tftp, logger('tftp'), this.telemetry, {
          policy: (cl) => this.plan.tftpPolicy({ ...this.dhcp?.factsFor(cl.address), mac: cl.mac ?? this.macFor(cl.address) ?? this.dhcp?.factsFor(cl.address)?.mac }),
          generate: (path, cl) => {
            const mac = cl.mac ?? this.macFor(cl.address);
            return this.plan.file(path, { mac, address: cl.address, serverAddress: this.serverFor(cl.address, c.tftp!.address), resetToken: this.resetTokenFor(cl.address) });
          },
          macFor: this.macFor,
        });
        const tftp = this.tftp;
        const a = await starting('tftp', { address: c.tftp.address, port: c.tftp.port, root: c.tftp.root }, () => tftp.start());
        this.listening.push({ svc: 'tftp', ...a, detail: `root ${c.tftp.root}` });
      }
      if (c.http) {
        this.http = new HttpServer(c.http, logger('http'), this.telemetry, {
          file: (path, cl) =>
            this.plan.file(path, { mac: cl.mac, address: cl.address, serverAddress: cl.serverAddress, resetToken: this.resetTokenFor(cl.address, cl.host) }),
          macFor: this.macFor,
          ipFor: this.ipFor,
          checkResetToken: (mac, address, token) => this.resetTokens?.check(mac, address, token) ?? false,
          resetArgv: (mac) => this.resetArgv(mac),
        }, { fdReserve: fdReserve(c) });
        const http = this.http;
        const a = await starting('http', { address: c.http.address, port: c.http.port }, () => http.start());
        this.listening.push({ svc: 'http', ...a, detail: `root ${c.http.root}` });
      }
      if (c.rpl) {
        this.rpl = new RplResponder(c.rpl, {
          plan: { rpl: (mac) => this.plan.rpl(mac) },
          root: c.tftp?.root ?? '/',
          log: logger('rpl'),
          telemetry: this.telemetry,
        });
        const rplLog = logger('rpl');
        const rpl = this.rpl;
        const rc = c.rpl;
        this.rplLinks = await starting('rpl', {}, () =>
          new RplLinks(rpl, rc.interfaces, {
            sap: rc.sap,
            onEvent: (ifname, what) => rplLog.warn({ event: `rpl.link_${what}`, iface: ifname }, `RPL interface ${ifname} ${what}`),
          }),
        );
        this.listening.push({ svc: 'rpl', address: c.rpl.interfaces.join(','), detail: `SAP 0x${c.rpl.sap.toString(16)}` });
      }
      if (c.admin) {
        this.admin = new AdminServer(c.admin, {
          telemetry: this.telemetry,
          leases: () => this.dhcp?.leaseViews() ?? [],
          pools: () => this.dhcp?.poolViews() ?? [],
          transfers: () => this.tftp?.transferViews() ?? [],
          rplLoads: () => this.rpl?.loadViews() ?? [],
          hostName: (mac) => {
            const h = this.plan.host(mac);
            return h && isWholeMac(h.prefix_bits) ? h.name : undefined;
          },
        });
        const admin = this.admin;
        const a = await starting('admin', { address: c.admin.address, port: c.admin.port }, () => admin.start());
        this.listening.push({ svc: 'admin', address: a.address, port: a.port });
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    // Everything privileged is bound now; become the service user.
    if (c.user) {
      // Only what lanboot made is handed over: a lease_file in /var/lib must never give away /var/lib.
      if (leaseFileNew && c.dhcp && existsSync(c.dhcp.lease_file)) this.created.push(c.dhcp.lease_file);
      // Directories, not only files: compaction writes a temp file beside the journal and renames it.
      const writable = [c.state_dir, c.dhcp && dirname(c.dhcp.lease_file), c.tftp?.upload_dir];
      dropPrivileges(c.user, c.group, this.created, this.log, writable.filter((p): p is string => !!p));
    }
  }

  /** The host's reset command with templates expanded (argv, never a shell). */
  resetArgv(mac: string): { argv: string[]; name?: string } | undefined {
    const d = this.plan.derive(mac.toLowerCase(), { serverAddress: this.config.server });
    const argv = d && resetArgvOf(d, this.config.server ? { server: this.config.server } : {});
    return argv && { argv, name: d!.name };
  }

  /**
   * Apply a new config. Listening sockets stay (they may be privileged and we
   * may have dropped root); the plan and per-service settings change for new
   * requests. Changes that need a new socket are reported, not half-applied.
   */
  reload(next: Config): string[] {
    const notes: string[] = [];
    const prev = this.config;
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    if (!same(prev.interfaces, next.interfaces) || !same(prev.except_interfaces, next.except_interfaces)) {
      notes.push('interfaces or except_interfaces changed: restart to reopen packet sockets');
    }
    for (const svc of ['dhcp', 'tftp', 'http', 'admin'] as const) {
      const a = prev[svc] as { address?: string; port?: number } | null;
      const b = next[svc] as { address?: string; port?: number } | null;
      if (!!a !== !!b || (a && b && (a.address !== b.address || a.port !== b.port))) {
        notes.push(`${svc} listen address/port or enablement changed: restart to apply`);
      }
    }
    // Loggers are made once, at start: their level and format stay.
    if (!same(prev.log, next.log)) notes.push('log level or format changed: restart to apply');
    if (!!prev.rpl !== !!next.rpl || !same(prev.rpl?.interfaces, next.rpl?.interfaces)) notes.push('rpl interfaces changed: restart to apply');
    // Settings a running service holds in its own state (lease pools, roots) are not half-applied.
    // The mode decides the sockets (4011) and whether a lease store exists at all.
    const dhcpShape = (c: Config) => c.dhcp && { mode: c.dhcp.mode, proxy_port: c.dhcp.proxy_port, lease_file: c.dhcp.lease_file };
    const dhcpRestart = !same(dhcpShape(prev), dhcpShape(next));
    if (dhcpRestart) notes.push('dhcp mode, proxy_port or lease_file changed: restart to apply (in the same mode, the rest of the dhcp section did apply)');
    if (prev.tftp?.root !== next.tftp?.root && prev.rpl) notes.push('tftp.root changed: RPL images are still read from the old root until restart');
    this.config = next;
    this.plan = new BootPlan(next);
    this.rpl?.setPlan({ rpl: (mac) => this.plan.rpl(mac) });
    if (next.tftp) this.tftp?.setConfig?.(next.tftp);
    if (next.http && prev.http?.root !== next.http.root) this.http?.setRoot(next.http.root);
    if (next.dhcp && prev.dhcp?.mode === next.dhcp.mode) this.dhcp?.reload(next);
    return notes;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([
      this.admin?.stop(),
      this.http?.stop(),
      this.tftp?.stop(),
      this.dhcp?.stop(),
      (async () => {
        this.rpl?.close();
        this.rplLinks?.close();
      })(),
    ]);
  }
}

/** `lanboot start`: run until SIGTERM/SIGINT; SIGHUP reloads the config file. */
export async function runApp(config: Config): Promise<void> {
  setRootLogger(makeLogger(config.log.level, undefined, config.log.format ?? defaultLogFormat()));
  const log = logger('core');
  // Created while still root: after the privilege drop the parent may not be ours.
  const created = createDirs(config.state_dir);
  if (config.dhcp) created.push(...createDirs(dirname(config.dhcp.lease_file)));
  const app = new App(config, { log, created });
  try {
    await app.start();
  } catch (e) {
    const se = e instanceof StartError ? e : undefined;
    log.error(
      { event: 'core.start_failed', service: se?.svc, code: se?.code ?? (e as NodeJS.ErrnoException).code, err: se?.cause.message ?? (e as Error).message, hint: se?.hint },
      `cannot start: ${(e as Error).message}`,
    );
    process.stderr.write(`lanboot: cannot start ${(e as Error).message}\n`);
    process.exit(1);
  }
  const pidFile = join(config.state_dir, 'lanboot.pid');
  try {
    writeFileSync(pidFile, `${process.pid}\n`);
  } catch {
    /* state dir may be read-only after a privilege drop; reload by signal still works */
  }
  log.info({ event: 'core.start', pid: process.pid, hosts: config.hosts.length, config: config.file }, 'lanboot started');
  for (const l of app.listening) {
    log.info({ event: 'core.listening', service: l.svc, address: l.address, port: l.port, detail: l.detail }, `${l.svc} on ${l.address}${l.port ? `:${l.port}` : ''}${l.detail ? ` (${l.detail})` : ''}`);
  }
  process.stderr.write(banner(app));

  // The file is read and validated in a worker thread: the services keep answering meanwhile.
  // One reload at a time; signals that arrive during one ask for one more run after it.
  let reloading: Promise<void> | undefined;
  let again = false;
  const reload = async () => {
    try {
      const next = await loadConfigInWorker(config.file);
      const notes = app.reload(next);
      log.info({ event: 'core.reload', hosts: next.hosts.length, notes }, `config reloaded from ${config.file}`);
      for (const n of notes) log.warn({ event: 'core.reload_partial' }, n);
    } catch (e) {
      const msg = (e as Error).message;
      log.error({ event: 'core.reload_refused', error: msg }, `new config refused, old one keeps running: ${msg}`);
    }
  };
  process.on('SIGHUP', () => {
    if (reloading) {
      again = true;
      return;
    }
    reloading = (async () => {
      do {
        again = false;
        await reload();
      } while (again);
      reloading = undefined;
    })();
  });
  const shutdown = async (sig: string) => {
    log.info({ event: 'core.stop', signal: sig }, 'stopping');
    await app.stop();
    rmSync(pidFile, { force: true });
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

function banner(app: App): string {
  const lines = ['', `lanboot is serving (${app.config.file}):`];
  for (const l of app.listening) lines.push(`  ${l.svc.padEnd(5)} ${l.address}${l.port ? `:${l.port}` : ''}${l.detail ? `  ${l.detail}` : ''}`);
  const http = app.listening.find((l) => l.svc === 'http');
  const tftp = app.listening.find((l) => l.svc === 'tftp');
  const admin = app.listening.find((l) => l.svc === 'admin');
  const host = app.config.hosts.find((h) => isWholeMac(h.prefix_bits));
  lines.push('', 'Try:');
  if (host && http) lines.push(`  curl http://${http.address}:${http.port}/boot/${host.mac}.ipxe      # ${host.name}'s iPXE script`);
  if (tftp) lines.push(`  curl tftp://${tftp.address}:${tftp.port}/README.txt                 # a file from the TFTP root`);
  if (admin) lines.push(`  open http://${admin.address}:${admin.port}/                          # live status page`);
  lines.push(`  lanboot check --config ${app.config.file}     # what every host gets`, '');
  return lines.join('\n') + '\n';
}

/**
 * Descriptors HTTP must leave free so a TFTP transfer still gets its socket
 * (and its file) and DHCP, RPL, the journal and logs keep working when HTTP
 * is full.
 */
export function fdReserve(c: Config): number {
  return 64 + (c.tftp ? 2 * c.tftp.max_transfers : 0) + (c.dhcp ? 16 : 0) + (c.rpl ? c.rpl.interfaces.length : 0);
}
