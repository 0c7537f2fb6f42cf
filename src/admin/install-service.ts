/**
 * `lanboot install-service [--print] [--prefix DIR] [--init systemd|procd]`:
 * writes the systemd unit or the OpenWrt procd script from services/, with the
 * command line pointing at this installation, or prints it for review.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { START_NODE_FLAGS } from '../node-flags.js';

export type InitSystem = 'systemd' | 'procd';

export interface InstallOptions {
  /** Print the file(s) instead of installing. */
  print: boolean;
  /** Root to install under (packaging, tests); default '/'. System changes (useradd) only happen without a prefix. */
  prefix?: string;
  /** Default: procd on OpenWrt, else systemd. */
  init?: InitSystem;
  /** Config path written into the command line; default /etc/lanboot/lanboot.yaml. */
  config?: string;
  /** Command that starts the CLI; default: this node binary + this CLI's path. */
  command?: string[];
  /** Where --print writes; default process.stdout. */
  out?: { write(s: string): unknown };
}

export interface InstallResult {
  init: InitSystem;
  /** Files written (or that would be, with print). */
  files: Array<{ path: string; mode: number; content: string }>;
  /** What the operator still has to run. */
  next: string[];
  /** Whether the `lanboot` system user was created now. */
  userCreated: boolean;
}

const SERVICE_DIRS = [
  new URL('../../services/', import.meta.url), // src/admin -> services
  new URL('../../../services/', import.meta.url), // dist/src/admin -> services
];

function template(name: string): string {
  for (const d of SERVICE_DIRS) {
    const p = fileURLToPath(new URL(name, d));
    if (existsSync(p)) return readFileSync(p, 'utf8');
  }
  throw new Error(`services/${name} not found next to the lanboot installation`);
}

export function detectInit(root = '/'): InitSystem {
  return existsSync(join(root, 'etc/openwrt_release')) || existsSync(join(root, 'sbin/procd')) ? 'procd' : 'systemd';
}

/** The CLI as installed: node + its heap flags + dist/src/cli.js (the package bin); `start` then needs no re-exec. */
function defaultCommand(): string[] {
  const cli = resolve(fileURLToPath(new URL('../cli.js', import.meta.url)));
  return [process.execPath, ...START_NODE_FLAGS, cli];
}

function shellQuote(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** systemd ExecStart quoting: plain words, or double quotes with \" and \\ escaped. */
function unitQuote(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `"${a.replace(/[\\"]/g, '\\$&')}"`;
}

export function renderUnit(init: InitSystem, command: string[], config: string): string {
  if (init === 'systemd') {
    const line = [...command, 'start', '--config', config].map(unitQuote).join(' ');
    return template('lanboot.service').replace(/^ExecStart=.*$/m, () => `ExecStart=${line}`);
  }
  const [prog, ...rest] = command;
  let s = template('lanboot.init')
    .replace(/^PROG=.*$/m, () => `PROG=${shellQuote(prog!)}`)
    .replace(/^CONFIG=.*$/m, () => `CONFIG=${shellQuote(config)}`);
  if (rest.length)
    s = s.replace('procd_set_param command "$PROG" start', () => `procd_set_param command "$PROG" ${rest.map(shellQuote).join(' ')} start`);
  return s;
}

/** What ProtectHome=yes hides from the service (systemd.exec(5)). */
const PROTECTED_HOME = ['/home/', '/root/', '/run/user/'];

/**
 * Why the unit's user could not run `path` (a file of the command line), or
 * undefined: under a directory ProtectHome hides, or a directory on the way
 * that others may not enter, or a file others may not read.
 */
export function unreachableForService(path: string): string | undefined {
  const abs = resolve(path);
  const hidden = PROTECTED_HOME.find((d) => abs.startsWith(d));
  if (hidden) return `${abs} is under ${hidden.slice(0, -1)}, which the unit hides (ProtectHome=yes) from its user lanboot`;
  let dir = dirname(abs);
  for (;;) {
    try {
      if (!(statSync(dir).mode & 0o001)) return `${dir} is not searchable by other users (mode ${(statSync(dir).mode & 0o777).toString(8)}), so user lanboot cannot reach ${abs}`;
    } catch {
      return `${dir} does not exist`;
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  try {
    if (!(statSync(abs).mode & 0o004)) return `${abs} is not readable by other users, so user lanboot cannot run it`;
  } catch {
    return `${abs} does not exist`;
  }
  return undefined;
}

function userExists(name: string): boolean {
  try {
    return readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .some((l) => l.startsWith(name + ':'));
  } catch {
    return false;
  }
}

export async function installService(opts: InstallOptions): Promise<InstallResult> {
  const root = opts.prefix ?? '/';
  const init = opts.init ?? detectInit(root);
  const config = opts.config ?? '/etc/lanboot/lanboot.yaml';
  const command = opts.command ?? defaultCommand();
  const content = renderUnit(init, command, config);
  const rel = init === 'systemd' ? 'etc/systemd/system/lanboot.service' : 'etc/init.d/lanboot';
  const file = { path: join(root, rel), mode: init === 'systemd' ? 0o644 : 0o755, content };
  const res: InstallResult = { init, files: [file], next: [], userCreated: false };
  if (init === 'systemd') {
    // Without CAP_NET_ADMIN, SO_RCVBUFFORCE fails and the packet sockets' 4 MiB
    // receive buffer is capped at rmem_max (about 200 KiB by default), which
    // drops frames in bursts. Raising the cap is narrower than granting NET_ADMIN.
    res.files.push({
      path: join(root, 'etc/sysctl.d/60-lanboot.conf'),
      mode: 0o644,
      content: '# lanboot: let its packet sockets have the 4 MiB receive buffer they ask for.\nnet.core.rmem_max = 4194304\n',
    });
  }

  if (init === 'systemd') {
    if (!userExists('lanboot')) res.next.push('useradd --system --no-create-home --shell /usr/sbin/nologin lanboot');
    res.next.push('sysctl --system', 'systemctl daemon-reload', 'systemctl enable --now lanboot', 'systemctl reload lanboot   # after editing the config');
  } else {
    res.next.push('set `user: lanboot` in the config (and add the user) so lanboot drops root after binding');
    res.next.push('/etc/init.d/lanboot enable', '/etc/init.d/lanboot start', '/etc/init.d/lanboot reload   # after editing the config');
  }
  if (!existsSync(join(root, config.replace(/^\/+/, '')))) res.next.unshift(`write the config: ${config} (lanboot check --config ${config})`);

  if (init === 'systemd' && opts.prefix === undefined) {
    // The unit runs as user lanboot with ProtectHome=yes: a checkout in /root or /home cannot start.
    // (Under a packaging prefix the command names the target system's files, not ours.)
    const problem = command.filter((a) => !a.startsWith('-')).map(unreachableForService).find((p) => p !== undefined);
    if (problem) {
      const fix =
        `${problem}. Install lanboot where the service can read it: in the checkout run \`npm ci && npm pack\`, ` +
        `then \`sudo npm install -g ./lanboot-*.tgz\` (it lands in /usr/local/lib/node_modules) and run that \`lanboot install-service\``;
      if (!opts.print) throw new Error(fix);
      res.next.unshift(`warning: ${fix}`);
    }
  }

  if (opts.print) {
    const out = opts.out ?? process.stdout;
    for (const f of res.files) out.write(`# --- ${f.path}\n${f.content}`);
    return res;
  }

  for (const f of res.files) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.content, { mode: f.mode });
    chmodSync(f.path, f.mode);
  }
  // The dedicated user, on a real install only (never under a packaging prefix).
  if (init === 'systemd' && opts.prefix === undefined && !userExists('lanboot')) {
    try {
      execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/var/lib/lanboot', '--shell', '/usr/sbin/nologin', 'lanboot'], {
        stdio: 'ignore',
      });
      res.userCreated = true;
      res.next = res.next.filter((n) => !n.startsWith('useradd'));
    } catch {
      /* left in `next` for the operator */
    }
  }
  return res;
}
