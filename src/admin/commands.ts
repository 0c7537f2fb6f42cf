/**
 * The CLI commands of this room, whole, so src/cli.ts only parses arguments:
 *   lanboot install-service [--print] [--prefix DIR] [--init systemd|procd] [--config FILE]
 *   lanboot leases [--json]      (asks the running instance over the admin API)
 *   lanboot hosts [--json]       (config order, with each host's current lease when reachable)
 * Each returns the process exit code.
 */
import type { Config } from '../config/types.js';
import { AdminUnreachable, fetchLeases } from './client.js';
import { installService, type InitSystem } from './install-service.js';
import { formatHosts, formatLeases, hostRows, printableJson } from './tables.js';
import type { LeaseView } from './views.js';

export interface Out {
  write(s: string): unknown;
}

export async function installServiceCommand(
  o: { print?: boolean; prefix?: string; init?: string; config?: string },
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  if (o.init !== undefined && o.init !== 'systemd' && o.init !== 'procd') {
    err.write(`--init must be systemd or procd (got "${o.init}")\n`);
    return 2;
  }
  try {
    const r = await installService({ print: !!o.print, prefix: o.prefix, init: o.init as InitSystem | undefined, config: o.config, out });
    if (!o.print) {
      for (const f of r.files) err.write(`wrote ${f.path}\n`);
      if (r.userCreated) err.write('created system user lanboot\n');
    }
    err.write(`next (${r.init}):\n${r.next.map((n) => `  ${n}\n`).join('')}`);
    return 0;
  } catch (e) {
    err.write(`install-service: ${(e as Error).message}\n`);
    return 1;
  }
}

export async function leasesCommand(config: Config, o: { json?: boolean }, out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  if (!config.admin) {
    err.write(`${config.file}: admin is off; add \`admin: {}\` so \`lanboot leases\` can ask the running server\n`);
    return 2; // the config does not allow the command: a config error, as the README's exit codes say
  }
  try {
    const leases = await fetchLeases(config.admin);
    out.write(o.json ? printableJson(leases) + '\n' : formatLeases(leases));
    return 0;
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return e instanceof AdminUnreachable ? 3 : 1;
  }
}

export async function hostsCommand(config: Config, o: { json?: boolean }, out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  let leases: LeaseView[] = [];
  if (config.admin) {
    try {
      leases = await fetchLeases(config.admin);
    } catch (e) {
      err.write(`(no lease column: ${(e as Error).message})\n`);
    }
  }
  const rows = hostRows(config.hosts, leases, config.boot.default);
  out.write(o.json ? printableJson(rows) + '\n' : formatHosts(rows));
  return 0;
}
