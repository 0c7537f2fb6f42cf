/**
 * Network namespaces, veth pairs and processes for integration tests.
 *
 *   const net = new NetnsScope();
 *   afterAll(() => net.cleanup());
 *   const ns = await net.createNetns();
 *   const { a, b } = await net.addVethPair(null, ns, { addrB: '10.9.0.2/24' });
 *   const child = net.spawn(ns, 'node', ['server.js']);
 *
 * Everything a scope creates is removed by cleanup() (idempotent), by
 * withNetns() when its callback settles, and as a last resort by a process
 * 'exit' handler, so a failing test leaves nothing behind. Names start with
 * "lb-" (CI counts leftovers by that prefix). The module-level functions use a
 * shared default scope; call cleanupNetns() from afterAll when using them.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface VethOptions {
  /** Interface names; default lb-<6 hex>a / lb-<6 hex>b (15 chars max). */
  nameA?: string;
  nameB?: string;
  /** CIDR addresses, e.g. '10.77.0.1/24'. */
  addrA?: string;
  addrB?: string;
  macA?: string;
  macB?: string;
  mtu?: number;
  /** Keep IPv6 on: off by default so no router solicitations/MLD frames appear on the link. */
  ipv6?: boolean;
}

export interface VethPair {
  a: string;
  b: string;
  macA: string;
  macB: string;
  nsA: string | null;
  nsB: string;
}

const scopes = new Set<NetnsScope>();
let exitHookInstalled = false;

function randomSuffix(): string {
  return randomBytes(3).toString('hex');
}

function nsArgs(ns: string | null, cmd: string, args: string[]): [string, string[]] {
  return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
}

/** Run a command (in `ns`, or the root namespace for null); never rejects on a non-zero exit. */
export function nsExec(
  ns: string | null,
  cmd: string,
  args: string[] = [],
  opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ExecResult> {
  const [c, a] = nsArgs(ns, cmd, args);
  return new Promise((resolve, reject) => {
    const child = execFile(
      c,
      a,
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number' && !err.killed) return reject(err);
        resolve({ stdout: String(stdout), stderr: String(stderr), code: err ? (typeof err.code === 'number' ? err.code : -1) : 0 });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Like nsExec, but rejects unless the command exits 0; resolves to stdout. */
export async function nsExecOk(
  ns: string | null,
  cmd: string,
  args: string[] = [],
  opts?: Parameters<typeof nsExec>[3],
): Promise<string> {
  const r = await nsExec(ns, cmd, args, opts);
  if (r.code !== 0) throw new Error(`${ns ? `[${ns}] ` : ''}${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}
const must = nsExecOk;

function quiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  } catch {
    // already gone
  }
}

/** MAC of an interface as the kernel reports it. */
export async function linkMac(ns: string | null, ifname: string): Promise<string> {
  const out = await must(ns, 'cat', [`/sys/class/net/${ifname}/address`]);
  return out.trim();
}

/**
 * Resolve when `child` prints a line matching `pattern` on stdout (or stderr),
 * reject on exit or timeout. Returns the matching line.
 */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) if (pattern.test(l)) return done(undefined, l);
    };
    const onExit = (code: number | null, sig: string | null): void =>
      done(new Error(`process exited (${code ?? sig}) before printing ${pattern}`));
    const timer = setTimeout(() => done(new Error(`timeout waiting for ${pattern}`)), timeoutMs);
    function done(err: Error | undefined, line?: string): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(line!);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

export class NetnsScope {
  readonly namespaces = new Set<string>();
  /** Root-namespace links this scope made (veth ends left in root). */
  readonly rootLinks = new Set<string>();
  readonly processes = new Set<ChildProcess>();

  constructor() {
    scopes.add(this);
    if (!exitHookInstalled) installExitHooks();
  }

  /** A new namespace with lo up; name is prefix + 6 hex chars. */
  async createNetns(prefix = 'lb-'): Promise<string> {
    if (!prefix.startsWith('lb-')) prefix = 'lb-' + prefix;
    const name = prefix + randomSuffix();
    this.namespaces.add(name); // registered first: cleanup also covers a half-made namespace
    await must(null, 'ip', ['netns', 'add', name]);
    await must(null, 'ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /**
   * A veth pair with end a in nsA (null = root namespace) and end b in nsB,
   * both up, with optional addresses, MACs and MTU.
   */
  async addVethPair(nsA: string | null, nsB: string, opts: VethOptions = {}): Promise<VethPair> {
    const tag = randomSuffix();
    const a = opts.nameA ?? `lb-${tag}a`;
    const b = opts.nameB ?? `lb-${tag}b`;
    for (const n of [a, b]) if (n.length > 15 || !n.startsWith('lb-')) throw new Error(`bad interface name ${n}`);
    this.rootLinks.add(a);
    this.rootLinks.add(b);
    await must(null, 'ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    const setup = async (ns: string | null, ifname: string, addr?: string, mac?: string): Promise<void> => {
      if (ns) {
        await must(null, 'ip', ['link', 'set', ifname, 'netns', ns]);
        this.rootLinks.delete(ifname);
      }
      if (!opts.ipv6) await must(ns, 'sysctl', ['-qw', `net.ipv6.conf.${ifname}.disable_ipv6=1`]);
      if (mac) await must(ns, 'ip', ['link', 'set', ifname, 'address', mac]);
      if (opts.mtu) await must(ns, 'ip', ['link', 'set', ifname, 'mtu', String(opts.mtu)]);
      if (addr) await must(ns, 'ip', ['addr', 'add', addr, 'dev', ifname]);
      await must(ns, 'ip', ['link', 'set', ifname, 'up']);
    };
    await setup(nsA, a, opts.addrA, opts.macA);
    await setup(nsB, b, opts.addrB, opts.macB);
    return { a, b, macA: await linkMac(nsA, a), macB: await linkMac(nsB, b), nsA, nsB };
  }

  exec(ns: string | null, cmd: string, args: string[] = [], opts?: Parameters<typeof nsExec>[3]): Promise<ExecResult> {
    return nsExec(ns, cmd, args, opts);
  }

  /** Spawn in a namespace; the process is killed (SIGTERM, then SIGKILL) on cleanup. */
  spawn(ns: string | null, cmd: string, args: string[] = [], opts: SpawnOptions = {}): ChildProcess {
    const [c, a] = nsArgs(ns, cmd, args);
    const child = spawn(c, a, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    this.processes.add(child);
    child.once('exit', () => this.processes.delete(child));
    child.once('error', () => this.processes.delete(child));
    return child;
  }

  /** Kill processes, delete root-side links and namespaces. Safe to call twice. */
  async cleanup(): Promise<void> {
    const procs = [...this.processes];
    await Promise.all(procs.map((p) => stopProcess(p)));
    this.cleanupSync();
  }

  /** Synchronous variant for the 'exit' handler. */
  cleanupSync(): void {
    for (const p of this.processes) {
      if (p.exitCode === null && p.signalCode === null) {
        try {
          p.kill('SIGKILL');
        } catch {
          // gone
        }
      }
    }
    this.processes.clear();
    for (const ns of this.namespaces) {
      // Stray grandchildren keep a namespace alive after `ip netns del`.
      killNamespacePids(ns);
      quiet('ip', ['netns', 'del', ns]);
    }
    this.namespaces.clear();
    for (const l of this.rootLinks) quiet('ip', ['link', 'del', l]);
    this.rootLinks.clear();
    scopes.delete(this);
  }
}

/**
 * Last-resort cleanup: on process exit, and on SIGINT/SIGTERM (after which the
 * signal is re-raised if nobody else handles it, so the process still dies).
 */
function installExitHooks(): void {
  exitHookInstalled = true;
  const all = (): void => {
    for (const s of [...scopes]) s.cleanupSync();
  };
  process.once('exit', all);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      all();
      if (process.listenerCount(sig) === 1) {
        process.off(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

function killNamespacePids(ns: string): void {
  let out = '';
  try {
    out = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return;
  }
  for (const pid of out.split(/\s+/).filter(Boolean).map(Number)) {
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function stopProcess(p: ChildProcess, graceMs = 2000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        p.kill('SIGKILL');
      } catch {
        // gone
      }
    }, graceMs);
    const end = setTimeout(resolve, graceMs + 2000); // never hang cleanup
    p.once('exit', () => {
      clearTimeout(t);
      clearTimeout(end);
      resolve();
    });
    try {
      p.kill('SIGTERM');
    } catch {
      resolve();
    }
  });
}

/** Run fn with a fresh scope and clean up whatever happens. */
export async function withNetns<T>(fn: (scope: NetnsScope) => Promise<T>): Promise<T> {
  const scope = new NetnsScope();
  try {
    return await fn(scope);
  } finally {
    await scope.cleanup();
  }
}

// A shared default scope for the free functions below.
let defaultScope: NetnsScope | undefined;
function scope(): NetnsScope {
  if (!defaultScope || !scopes.has(defaultScope)) defaultScope = new NetnsScope();
  return defaultScope;
}

export function createNetns(prefix?: string): Promise<string> {
  return scope().createNetns(prefix);
}

export function addVethPair(nsA: string | null, nsB: string, opts?: VethOptions): Promise<VethPair> {
  return scope().addVethPair(nsA, nsB, opts);
}

export function nsSpawn(ns: string | null, cmd: string, args: string[] = [], opts?: SpawnOptions): ChildProcess {
  return scope().spawn(ns, cmd, args, opts);
}

/** Clean up the default scope (afterAll). */
export async function cleanupNetns(): Promise<void> {
  await defaultScope?.cleanup();
}
