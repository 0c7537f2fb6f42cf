/**
 * Network-namespace plumbing for the DHCP tests: namespaces and veth pairs
 * named lb-*, the DHCP server launcher and the crafted-packet client, and
 * cleanup that runs even when a test fails.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function sh(cmd: string, opts: { allowFail?: boolean; timeout?: number } = {}): string {
  try {
    return execFileSync('bash', ['-c', cmd], { encoding: 'utf8', timeout: opts.timeout ?? 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (opts.allowFail) return ((e as { stdout?: string }).stdout ?? '') + ((e as { stderr?: string }).stderr ?? '');
    throw new Error(`${cmd}\n${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
  }
}

export function rand(): string {
  return Math.random().toString(36).slice(2, 7);
}

export class Lab {
  readonly namespaces: string[] = [];
  readonly procs: ChildProcess[] = [];
  readonly tag = rand();

  ns(suffix: string): string {
    const name = `lb-${this.tag}${suffix}`;
    sh(`ip netns add ${name} && ip netns exec ${name} ip link set lo up`);
    this.namespaces.push(name);
    return name;
  }

  /** veth pair: aIf in nsA with addrA (CIDR or ''), bIf in nsB with addrB. */
  link(nsA: string, aIf: string, addrA: string, nsB: string, bIf: string, addrB: string, macB?: string): void {
    sh(`ip -n ${nsA} link add ${aIf} type veth peer name ${bIf} netns ${nsB}`);
    if (addrA) sh(`ip -n ${nsA} addr add ${addrA} dev ${aIf}`);
    if (addrB) sh(`ip -n ${nsB} addr add ${addrB} dev ${bIf}`);
    if (macB) sh(`ip -n ${nsB} link set ${bIf} address ${macB}`);
    sh(`ip -n ${nsA} link set ${aIf} up && ip -n ${nsB} link set ${bIf} up`);
  }

  exec(ns: string, cmd: string, opts: { allowFail?: boolean; timeout?: number } = {}): string {
    return sh(`ip netns exec ${ns} bash -c ${JSON.stringify(cmd)}`, opts);
  }

  spawn(ns: string, argv: string[], opts: { cwd?: string } = {}): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', ns, ...argv], { cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.procs.push(p);
    return p;
  }

  cleanup(): void {
    for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const ns of this.namespaces) {
      // Kill whatever still runs inside (daemons started by the tests), then delete.
      sh(`for p in $(ip netns pids ${ns}); do kill -9 $p; done; ip netns del ${ns}`, { allowFail: true });
    }
  }
}

export interface ServerHandle {
  proc: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr: string[];
  waitFor(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<Record<string, unknown> | undefined>;
}

/** Start lanboot's DHCP service in `ns` from a YAML config written to dir/lanboot.yaml. */
export async function startServer(lab: Lab, ns: string, dir: string, yaml: string, opts: { noSync?: boolean } = {}): Promise<ServerHandle> {
  const cfg = join(dir, 'lanboot.yaml');
  writeFileSync(cfg, yaml);
  const proc = lab.spawn(ns, ['node', '--import', 'tsx', join(FIXTURES, 'server.ts'), cfg, ...(opts.noSync ? ['--no-sync'] : [])]);
  const lines: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  const watchers = new Set<() => void>();
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line));
      } catch {
        stderr.push(line);
      }
      for (const w of watchers) w();
    }
  });
  proc.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const waitFor = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 15_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const hit = lines.find(pred);
        if (hit) {
          watchers.delete(check);
          clearTimeout(timer);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        watchers.delete(check);
        reject(new Error(`server line not seen in ${timeoutMs} ms; stderr: ${stderr.join('').slice(-2000)}`));
      }, timeoutMs);
      watchers.add(check);
      check();
    });
  await waitFor((l) => l.event === 'ready', 20_000);
  return {
    proc,
    lines,
    stderr,
    waitFor,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return undefined;
      proc.kill('SIGTERM');
      const l = await waitFor((x) => x.event === 'stopped', 10_000).catch(() => undefined);
      return l;
    },
  };
}

/** Run the crafted-packet client in `ns`; returns the replies it printed. */
export function craftedClient(lab: Lab, ns: string, spec: object, timeout = 30_000): Array<Record<string, any>> {
  const out = lab.exec(ns, `node --import tsx ${join(FIXTURES, 'client.ts')} '${JSON.stringify(spec)}'`, { timeout });
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

/** A client script for udhcpc / dhclient / dhcpcd that appends what it was given to a file. */
export function clientScript(path: string, out: string): void {
  writeFileSync(
    path,
    `#!/bin/sh\necho "arg=$1 reason=$reason ip=$ip new_ip_address=$new_ip_address router=$router new_routers=$new_routers subnet=$subnet new_subnet_mask=$new_subnet_mask hostname=$hostname new_host_name=$new_host_name serverid=$serverid" >> ${out}\nexit 0\n`,
    { mode: 0o755 },
  );
}
