/**
 * DHCP benchmark: the real `lanboot start` (log level info, lease journal
 * fsynced before every ACK) against Kea (kea-dhcp4, memfile, persist: true)
 * and Kea multi-threaded, in one run, servers interleaved, N rounds per rate.
 *
 *   npm run build && npm run bench:dhcp [-- --rates 1000,4000,6000 --rounds 3 --duration 10]
 *
 * See bench/dhcp/README.md for the method and every flag. Runs as root;
 * creates lb-bd* namespaces and cgroups and removes them at the end.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const cli = join(repo, 'dist/src/cli.js');
const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf('--' + name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : def;
};
const nums = (s: string) => (s ? s.split(',').map(Number) : []);
const duration = Number(arg('duration', '10'));
const clients = Number(arg('clients', '20000'));
const rates = nums(arg('rates', '1000,2000,4000,5000,6000,8000,10000,12000'));
const rounds = Number(arg('rounds', '3'));
const serverNames = arg('servers', arg('only', 'lanboot,kea,kea-mt')).split(',');
/** Other lanboot checkouts (built), each run as server "lanboot-<dir name>" beside this one, interleaved: before/after on the same noise. */
const compared = new Map(arg('compare', '').split(',').filter(Boolean).map((d) => [`lanboot-${basename(resolve(d))}`, resolve(d)]));
serverNames.splice(serverNames.includes('lanboot') ? 1 : 0, 0, ...[...compared.keys()].filter((n) => !serverNames.includes(n)));
/** The rate whose RSS peak is reported. */
const peakRate = Number(arg('peak-rate', '6000'));
/** 'pipe': server logs go to its stdout, a pipe read by `cat` into a file (as journald reads a unit's stdout); 'file': stdout is the file. */
const logTo = arg('log', 'pipe');
const keaThreads = Number(arg('kea-threads', '2'));
const keaQueue = Number(arg('kea-queue', '64'));
const NICE = arg('nice', '-10');
/** Extra node flags for lanboot, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (profiles are written at SIGTERM). */
const nodeArgs = arg('node-args', '').split(' ').filter(Boolean);
const keep = args.includes('--keep');
/**
 * 'relay': perfdhcp sends to 10.77.0.1 (unicast from an on-link relay: lanboot's UDP socket);
 * 'broadcast': to 255.255.255.255 (still relayed, giaddr set, but an Ethernet broadcast:
 * lanboot's packet socket, as a LAN's DISCOVERs arrive).
 */
const sendTo = arg('to', 'relay');
if (sendTo !== 'relay' && sendTo !== 'broadcast') throw new Error('--to relay|broadcast');
const debug = !!process.env.LB_BENCH_DEBUG;

const tag = Math.random().toString(36).slice(2, 6);
const dir = mkdtempSync(join(arg('dir', tmpdir()), 'lb-dhcpbench-'));
const CGROUP2 = (() => {
  const m = readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
  return m?.split(' ')[1];
})();
const namespaces: string[] = [];
const cgroups: string[] = [];
const procs: ChildProcess[] = [];

function sh(cmd: string, allowFail = false): string {
  try {
    return execFileSync('bash', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (e) {
    if (allowFail) return String((e as { stdout?: string }).stdout ?? '');
    throw new Error(`${cmd}: ${(e as { stderr?: string }).stderr ?? e}`);
  }
}

function cleanup(): void {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const ns of namespaces) sh(`for p in $(ip netns pids ${ns}); do kill -9 $p; done; ip netns del ${ns}`, true);
  for (const g of cgroups) {
    for (let i = 0; i < 20; i++) {
      try {
        rmdirSync(g);
        break;
      } catch {
        execFileSync('sleep', ['0.1']);
      }
    }
  }
  if (!keep) rmSync(dir, { recursive: true, force: true });
  else process.stderr.write(`kept ${dir}\n`);
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

/** Server namespace S (s0 10.77.0.1/16) and client namespace C (c0 10.77.0.2/16), joined by a veth pair. */
function pair(name: string): { s: string; c: string } {
  const s = `lb-bd${tag}${name}s`;
  const c = `lb-bd${tag}${name}c`;
  namespaces.push(s, c);
  sh(`ip netns add ${s} && ip netns add ${c}`);
  sh(`ip -n ${s} link add s0 type veth peer name c0 netns ${c}`);
  sh(`ip -n ${s} addr add 10.77.0.1/16 dev s0 && ip -n ${c} addr add 10.77.0.2/16 dev c0`);
  sh(`ip -n ${s} link set s0 up && ip -n ${c} link set c0 up && ip -n ${s} link set lo up && ip -n ${c} link set lo up`);
  // 255.255.255.255 leaves by the route to it.
  if (sendTo === 'broadcast') sh(`ip -n ${c} route add default dev c0`);
  return { s, c };
}

function cgroupFor(name: string, pid: number): string | undefined {
  if (!CGROUP2) return undefined;
  const g = join(CGROUP2, `lb-bd${tag}-${name}`);
  try {
    mkdirSync(g, { recursive: true });
    cgroups.push(g);
    writeFileSync(join(g, 'cgroup.procs'), String(pid));
    return g;
  } catch {
    return undefined;
  }
}

/** CPU seconds of the server (user, system): its cgroup (every thread), else /proc/PID/stat utime, stime. */
function cpuSeconds(s: Running): { user: number; sys: number } {
  if (s.cgroup) {
    const st = readFileSync(join(s.cgroup, 'cpu.stat'), 'utf8');
    const u = /user_usec (\d+)/.exec(st);
    const y = /system_usec (\d+)/.exec(st);
    if (u && y) return { user: Number(u[1]) / 1e6, sys: Number(y[1]) / 1e6 };
  }
  const f = readFileSync(`/proc/${s.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { user: Number(f[11]) / 100, sys: Number(f[12]) / 100 };
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Logs to a pipe read by `cat` into `file` (journald's place), or straight into the file. */
function logSink(file: string): { stdout: number | NodeJS.WritableStream; close(): void } {
  const fd = openSync(file, 'a');
  if (logTo === 'file') return { stdout: fd, close: () => closeSync(fd) };
  const cat = spawn('cat', [], { stdio: ['pipe', fd, 'ignore'] });
  procs.push(cat);
  return {
    stdout: cat.stdin!,
    close: () => {
      cat.stdin!.destroy(); // cat sees EOF once the server's end is closed too
      closeSync(fd);
    },
  };
}

function waitFor(test: () => boolean, ms: number, what: string | (() => string), p?: ChildProcess): Promise<void> {
  const name = () => (typeof what === 'string' ? what : what());
  return new Promise((res, rej) => {
    const t0 = Date.now();
    const tick = () => {
      if (test()) return res();
      if (p && (p.exitCode !== null || p.signalCode !== null)) return rej(new Error(`${name()}: process exited`));
      if (Date.now() - t0 > ms) return rej(new Error(`timeout waiting for ${name()}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}

interface Running {
  name: string;
  pid: number;
  proc: ChildProcess;
  cgroup?: string;
  ns: { s: string; c: string };
  log: string;
  /** Bytes of the log already counted. */
  logOffset: number;
  stderr: string;
  stop(): Promise<void>;
}

function spawnServer(name: string, ns: string, argv: string[], log: string, env?: NodeJS.ProcessEnv): Running {
  const sink = logSink(log);
  // `ip netns exec` and `nice` exec() the server: p.pid is the server's own pid.
  const stdio = ['ignore', sink.stdout, 'pipe'] as Array<'ignore' | 'pipe' | number | NodeJS.WritableStream>;
  const p = spawn('nice', ['-n', NICE, 'ip', 'netns', 'exec', ns, ...argv], { stdio: stdio as never, env: env ?? process.env }) as ChildProcess;
  procs.push(p);
  const r: Running = {
    name,
    pid: p.pid!,
    proc: p,
    cgroup: cgroupFor(name, p.pid!),
    ns: { s: ns, c: '' },
    log,
    logOffset: 0,
    stderr: '',
    stop: async () => {
      if (p.exitCode === null && p.signalCode === null) {
        const done = new Promise((res) => p.once('exit', res));
        p.kill('SIGTERM');
        await Promise.race([done, sleep(10_000)]);
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }
      sink.close();
    },
  };
  p.stderr!.on('data', (d: Buffer) => (r.stderr = (r.stderr + d.toString()).slice(-4000)));
  return r;
}

const defaultYaml = readFileSync(join(repo, 'config/lanboot.yaml'), 'utf8');
/** config/lanboot.yaml's boot, iscsi and hosts sections; the fixed host address moves into the namespace's subnet. */
const defaultTail = defaultYaml.slice(defaultYaml.indexOf('\nboot:') + 1).replace(/127\.77\.0\./g, '10.77.0.');

/** The default config's shape, serving the namespace's interface. */
function lanbootConfig(state: string): string {
  return [
    'server: 10.77.0.1',
    'interfaces: [s0]',
    `state_dir: ${state}`,
    'log: { level: info }',
    '',
    'dhcp:',
    '  mode: authoritative',
    '  address: 0.0.0.0',
    '  port: 67',
    '  subnets:',
    '    - { subnet: 10.77.0.0/16, range: 10.77.1.0-10.77.250.255, router: 10.77.0.1, dns: [10.77.0.1], lease: 1h }',
    '',
    `tftp: { address: 10.77.0.1, port: 69, root: ${join(repo, 'config/demo-root')} }`,
    'http: { address: 10.77.0.1, port: 80 }',
    'admin: { address: 127.0.0.1, port: 8067 }',
    '',
    defaultTail,
  ].join('\n');
}

async function startLanboot(name: string, ns: { s: string; c: string }, cfgText: string, cliJs = cli): Promise<Running> {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  const cfg = join(d, 'lanboot.yaml');
  writeFileSync(cfg, cfgText);
  const r = spawnServer(name, ns.s, [process.execPath, ...nodeArgs, cliJs, 'start', '-c', cfg], join(d, 'lanboot.log'));
  r.ns = ns;
  await waitFor(() => r.stderr.includes('lanboot is serving'), 30_000, () => `${name} start (${r.stderr.slice(-300)})`, r.proc);
  return r;
}

async function startKea(name: string, ns: { s: string; c: string }, mt: boolean): Promise<Running> {
  const kdir = join(dir, name);
  mkdirSync(kdir, { recursive: true });
  const log = join(kdir, 'kea.log');
  const conf = {
    Dhcp4: {
      'interfaces-config': { interfaces: ['s0'] },
      'lease-database': { type: 'memfile', persist: true, name: join(kdir, 'leases4.csv'), 'lfc-interval': 0 },
      'valid-lifetime': 3600,
      ...(mt ? { 'multi-threading': { 'enable-multi-threading': true, 'thread-pool-size': keaThreads, 'packet-queue-size': keaQueue } } : {}),
      subnet4: [
        {
          id: 1,
          subnet: '10.77.0.0/16',
          pools: [{ pool: '10.77.1.0 - 10.77.250.255' }],
          'option-data': [
            { name: 'routers', data: '10.77.0.1' },
            { name: 'domain-name-servers', data: '10.77.0.1' },
          ],
        },
      ],
      // INFO: one line per lease offered (DHCP4_LEASE_ADVERT) and allocated (DHCP4_LEASE_ALLOC), as lanboot's info lines.
      loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' }],
    },
  };
  writeFileSync(join(kdir, 'kea.json'), JSON.stringify(conf, null, 1));
  const env = { ...process.env, KEA_PIDFILE_DIR: kdir, KEA_LOCKFILE_DIR: kdir };
  const r = spawnServer(name, ns.s, ['kea-dhcp4', '-c', join(kdir, 'kea.json')], log, env);
  r.ns = ns;
  await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('DHCP4_STARTED'), 30_000, `${name} start`, r.proc);
  return r;
}

/** Newline count and lines matching `re` written to the log since the last call. */
function newLogLines(r: Running, re: RegExp): { lines: number; matching: number } {
  const size = statSync(r.log).size;
  const len = size - r.logOffset;
  if (len <= 0) return { lines: 0, matching: 0 };
  const fd = openSync(r.log, 'r');
  const buf = Buffer.alloc(len);
  readSync(fd, buf, 0, len, r.logOffset);
  closeSync(fd);
  r.logOffset = size;
  const text = buf.toString('latin1');
  let lines = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
  return { lines, matching: text.match(re)?.length ?? 0 };
}

/** Matches of `re` (global, within one line) in a file of any size. */
function countInFile(file: string, re: RegExp): number {
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(16 << 20);
  let n = 0;
  let carry = '';
  for (;;) {
    const got = readSync(fd, buf, 0, buf.length, null);
    if (got <= 0) break;
    const text = carry + buf.toString('latin1', 0, got);
    const cut = text.lastIndexOf('\n') + 1;
    n += text.slice(0, cut).match(re)?.length ?? 0;
    carry = text.slice(cut);
  }
  closeSync(fd);
  return n + (carry.match(re)?.length ?? 0);
}

interface Run {
  server: string;
  rate: number;
  round: number;
  dora: number;
  drops: number;
  acks: number;
  cpuPer1000: number;
  /** Share of that CPU spent in the kernel. */
  sysShare: number;
  rssPeak: number;
  logLines: number;
  /** ms, REQUEST->ACK and DISCOVER->OFFER, client side. */
  p50: number;
  p99: number;
  p50Offer: number;
  p99Offer: number;
}

function exec(cmd: string, argv: string[], timeoutMs: number): Promise<string> {
  return new Promise((res) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(p);
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', () => {
      clearTimeout(t);
      res(out);
    });
  });
}

const ACK_LINE: Record<string, RegExp> = { lanboot: /"event":"dhcp\.ack"/g, kea: /DHCP4_LEASE_ALLOC/g };

/** ms, from perfdhcp's "-x t" table of one exchange ("sent / received: S / R" per successful exchange). */
function delays(out: string, exchange: string): number[] {
  const head = `***Timestamps for packets: ${exchange}***`;
  const at = out.indexOf(head);
  if (at < 0) return [];
  const next = out.indexOf('***', at + head.length);
  const block = out.slice(at, next > 0 ? next : undefined);
  const ds: number[] = [];
  for (const m of block.matchAll(/sent \/ received: ([\d.]+) \/ ([\d.]+)/g)) ds.push((Number(m[2]) - Number(m[1])) * 1000);
  return ds.sort((a, b) => a - b);
}

/** Nearest-rank percentile of a sorted list; NaN when empty. */
function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function perfRun(s: Running, rate: number, round: number): Promise<Run> {
  newLogLines(s, /x/); // skip what was logged between runs
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(s.pid) || 0)), 100);
  const cpu0 = cpuSeconds(s);
  // -x t: per-exchange send/receive times (perfdhcp keeps them anyway; printed at the end), for p50/p99 without a capture.
  const out = await exec('nice', ['-n', NICE, 'ip', 'netns', 'exec', s.ns.c, 'perfdhcp', '-4', '-x', 't', '-l', 'c0', '-r', String(rate), '-R', String(clients), '-p', String(duration), sendTo === 'broadcast' ? 'all' : '10.77.0.1'], (duration + 60) * 1000);
  await sleep(300); // the last ACKs' log lines and fsyncs
  const cpu1 = cpuSeconds(s);
  const user = cpu1.user - cpu0.user;
  const sys = cpu1.sys - cpu0.sys;
  clearInterval(sampler);
  peak = Math.max(peak, rssMb(s.pid) || 0);
  const stats = out.slice(0, out.indexOf('***Timestamps') >= 0 ? out.indexOf('***Timestamps') : undefined);
  if (debug) process.stderr.write(stats);
  const m = /Rate: ([\d.]+) 4-way exchanges\/second/.exec(stats);
  const dora = m ? Number(m[1]) : 0;
  const sent = [...stats.matchAll(/sent packets: (\d+)/g)].map((x) => Number(x[1]));
  const recv = [...stats.matchAll(/received packets: (\d+)/g)].map((x) => Number(x[1]));
  const dropRatios = [...stats.matchAll(/drops ratio: ([\d.]+) ?%/g)].map((x) => Number(x[1]));
  let drops = dropRatios.length === 2 ? Math.max(...dropRatios) : 100;
  if (dropRatios.length !== 2 && sent.length === 2 && recv.length === 2) drops = Math.max(...sent.map((x, i) => (x ? (100 * (x - recv[i]!)) / x : 100)));
  const acks = recv[1] ?? 0;
  const logs = newLogLines(s, /x/);
  const ra = delays(out, 'REQUEST-ACK');
  const doff = delays(out, 'DISCOVER-OFFER');
  return {
    server: s.name, rate, round, dora, drops, acks, cpuPer1000: acks ? (user + sys) / (acks / 1000) : NaN, sysShare: user + sys > 0 ? sys / (user + sys) : NaN, rssPeak: peak,
    logLines: logs.lines,
    p50: percentile(ra, 50), p99: percentile(ra, 99), p50Offer: percentile(doff, 50), p99Offer: percentile(doff, 99),
  };
}

const median = (xs: number[]) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length ? (v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2) : NaN;
};
const f = (x: number | undefined, d = 0) => (x === undefined || !Number.isFinite(x) ? '–' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));

// ---------------------------------------------------------------- idle RSS with the embedded default config

/**
 * `lanboot start` with config/lanboot.yaml as shipped (its state dir and demo root beside a copy), in a namespace of its own:
 * RSS 5 s after start, and 20 s after, once V8's memory reducer has run its first full GC (about 8 s after start-up ends).
 */
async function idleDefault(): Promise<{ at5: number; at20: number }> {
  const ns = `lb-bd${tag}def`;
  namespaces.push(ns);
  sh(`ip netns add ${ns} && ip -n ${ns} link set lo up`);
  const cfgDir = join(dir, 'default', 'config');
  mkdirSync(cfgDir, { recursive: true });
  copyFileSync(join(repo, 'config/lanboot.yaml'), join(cfgDir, 'lanboot.yaml'));
  symlinkSync(join(repo, 'config/demo-root'), join(cfgDir, 'demo-root'));
  const r = spawnServer('lanboot-default', ns, [process.execPath, cli, 'start', '-c', join(cfgDir, 'lanboot.yaml')], join(dir, 'default', 'lanboot.log'));
  await waitFor(() => r.stderr.includes('lanboot is serving'), 30_000, () => `lanboot default start (${r.stderr.slice(-300)})`, r.proc);
  await sleep(5000);
  const at5 = rssMb(r.pid);
  await sleep(15_000);
  const at20 = rssMb(r.pid);
  await r.stop();
  return { at5, at20 };
}

// ---------------------------------------------------------------- main

const machine = `${sh('nproc').trim()} CPUs (${/model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?'}), ${Math.round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) / 1024 / 1024)} GB, kernel ${sh('uname -r').trim()}, node ${process.version}, ${sh('kea-dhcp4 -v').trim() ? `kea ${sh('kea-dhcp4 -v').trim()}` : ''}`;
process.stdout.write(`machine: ${machine}\n`);
process.stdout.write(`perfdhcp relayed (giaddr 10.77.0.2, on-link relay${sendTo === 'broadcast' ? ', sent to 255.255.255.255' : ''}), ${clients} clients, ${duration} s per run, ${rounds} rounds per rate, rates ${rates.join(', ')}; logs at info to a ${logTo}${logTo === 'pipe' ? ' (read by cat into a file)' : ''}\n`);
process.stdout.write(`servers: ${serverNames.join(', ')}${serverNames.includes('kea-mt') ? ` (kea-mt: thread-pool-size ${keaThreads}, packet-queue-size ${keaQueue})` : ''}; work dir ${dir}\n`);

const idle: Record<string, number> = {};
const idleDefaultMb = serverNames.includes('lanboot') ? await idleDefault() : { at5: NaN, at20: NaN };
const running: Running[] = [];
for (const name of serverNames) {
  const ns = pair(name.replace(/[^a-z0-9]/gi, '').slice(0, 12));
  if (name === 'lanboot') running.push(await startLanboot(name, ns, lanbootConfig(join(dir, name, 'state'))));
  else if (compared.has(name)) running.push(await startLanboot(name, ns, lanbootConfig(join(dir, name, 'state')), join(compared.get(name)!, 'dist/src/cli.js')));
  else if (name === 'kea' || name === 'kea-mt') running.push(await startKea(name, ns, name === 'kea-mt'));
  else throw new Error(`unknown server ${name}`);
}
await sleep(2000);
for (const r of running) idle[r.name] = rssMb(r.pid);

const runs: Run[] = [];
const retired = new Set<string>();
const failedBefore = new Set<string>();
process.stdout.write(
  '\nPer rate (medians of the rounds; drops = the worse of DISCOVER→OFFER and REQUEST→ACK; latency client side, ms):\n\n' +
    '| rate/s | server | DORA/s | drops % (min–max) | CPU s / 1000 DORA (sys %) | RSS peak MB | REQ→ACK p50 | p99 | DISC→OFFER p99 | log lines / DORA |\n' +
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n',
);
for (const rate of rates) {
  const active = running.filter((r) => !retired.has(r.name));
  if (!active.length) break;
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round: no server always runs first (or right after another's burst).
    for (let i = 0; i < active.length; i++) {
      const s = active[(i + round) % active.length]!;
      const r = await perfRun(s, rate, round);
      runs.push(r);
      if (debug) process.stderr.write(`${JSON.stringify(r)}\n`);
    }
  }
  for (const s of active) {
    const mine = runs.filter((r) => r.server === s.name && r.rate === rate);
    const drops = mine.map((r) => r.drops);
    const med = median(drops);
    const m = (k: (r: Run) => number) => median(mine.map(k));
    process.stdout.write(
      `| ${f(rate)} | ${s.name} | ${f(m((r) => r.dora))} | ${f(med, 2)} (${f(Math.min(...drops), 2)}–${f(Math.max(...drops), 2)}) | ` +
        `${f(m((r) => r.cpuPer1000), 3)} (${f(100 * m((r) => r.sysShare))}) | ${f(Math.max(...mine.map((r) => r.rssPeak)), 1)} | ${f(m((r) => r.p50), 2)} | ${f(m((r) => r.p99), 2)} | ` +
        `${f(m((r) => r.p99Offer), 2)} | ${f(m((r) => (r.acks ? r.logLines / r.acks : NaN)), 2)} |\n`,
    );
    if (med >= 1) {
      if (failedBefore.has(s.name) || med >= 20) retired.add(s.name);
      failedBefore.add(s.name);
    } else failedBefore.delete(s.name);
  }
}

for (const r of running) await r.stop();
// Every ACK a client received has its log line (more are fine: ACKs that came too late for perfdhcp).
// Counted over the whole log once the server stopped: under overload lines may land after their run.
for (const r of running) {
  const acks = runs.filter((x) => x.server === r.name).reduce((n, x) => n + x.acks, 0);
  const lines = countInFile(r.log, ACK_LINE[r.name.startsWith('kea') ? 'kea' : 'lanboot']!);
  process.stdout.write(`${r.name}: ${f(lines)} ACK log lines for ${f(acks)} ACKs received${lines < acks ? '  !! lines missing' : ''}\n`);
}

// ---------------------------------------------------------------- summary

const latRate = rates.includes(4000) ? 4000 : rates[Math.floor(rates.length / 2)]!;
process.stdout.write(
  `\nSummary (medians of the rounds):\n\n| server | DORA/s at < 1 % drops | CPU s / 1000 DORA at 1,000/s | at 4,000/s | RSS idle MB | RSS peak at ${f(peakRate)}/s MB | REQ→ACK p50 / p99 at ${f(latRate)}/s ms |\n|---|---:|---:|---:|---:|---:|---:|\n`,
);
for (const s of running) {
  const mine = runs.filter((r) => r.server === s.name);
  let best = 0;
  let bestRate = 0;
  for (const rate of rates) {
    const at = mine.filter((r) => r.rate === rate);
    if (at.length && median(at.map((r) => r.drops)) < 1) {
      best = median(at.map((r) => r.dora));
      bestRate = rate;
    }
  }
  const at = (rate: number, k: (r: Run) => number) => median(mine.filter((r) => r.rate === rate).map(k));
  const peak = Math.max(...mine.filter((r) => r.rate === peakRate).map((r) => r.rssPeak));
  const idleText = s.name === 'lanboot' ? `${f(idle[s.name], 1)} (default config: ${f(idleDefaultMb.at5, 1)}; after 20 s ${f(idleDefaultMb.at20, 1)})` : f(idle[s.name], 1);
  process.stdout.write(
    `| ${s.name} | ${f(best)} (at ${f(bestRate)}/s) | ${f(at(1000, (r) => r.cpuPer1000), 3)} | ${f(at(4000, (r) => r.cpuPer1000), 3)} | ${idleText} | ` +
      `${f(peak, 1)} | ${f(at(latRate, (r) => r.p50), 2)} / ${f(at(latRate, (r) => r.p99), 2)} |\n`,
  );
}
process.stdout.write(
  '\nlanboot fdatasyncs every lease before its ACK (group commit); Kea memfile (persist: true) writes each lease to its CSV and never fsyncs.\n',
);
process.exit(0);
