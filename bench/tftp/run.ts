/**
 * TFTP benchmark: lanboot against tftp-hpa (in.tftpd -L), atftpd and
 * dnsmasq's TFTP, all inside one private network namespace on loopback
 * (dnsmasq 2.90 serves TFTP on port 69 only), same clients, same files.
 *
 *   npm run build && npm run bench:tftp [-- --rounds 3 --size-mib 100 --quick]
 *     [--peers lanboot,tftp-hpa] [--skip-throughput] [--skip-storm]
 *     [--windows 4,16,64] [--win-blksizes 512,1468,8192,65464] [--tput-timeout-s 60]
 *
 * Throughput: a SIZE MiB file with curl (lock-step, --tftp-blksize) and with
 * atftp (--option windowsize) for the peers that support RFC 7440. Storms:
 * 50 and 200 concurrent curl clients fetching a 70 KB and a 5 MiB file.
 * Medians of interleaved rounds; lanboot's RSS is sampled during storms.
 * Prints markdown tables. Needs root (netns) and the peers installed.
 */
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const flag = (n: string) => argv.includes(`--${n}`);
const opt = (n: string, d: number) => {
  const i = argv.indexOf(`--${n}`);
  return i >= 0 ? Number(argv[i + 1]) : d;
};
const quick = flag('quick');
const ROUNDS = opt('rounds', quick ? 1 : 3);
const SIZE = opt('size-mib', quick ? 20 : 100) * 1024 * 1024;
const BLKSIZES = [512, 1468, 8192, 65464];
const list = (n: string, d: number[]) => {
  const i = argv.indexOf(`--${n}`);
  return i >= 0 ? argv[i + 1]!.split(',').map(Number) : d;
};
const WINDOWS = list('windows', [4, 16, 64]);
/** Windowed runs only at these blksizes (atftpd crawls at the large ones; each crawl costs a timeout). */
const WIN_BLKSIZES = list('win-blksizes', BLKSIZES);
const STORMS: Array<{ clients: number; bytes: number; label: string }> = [
  { clients: 50, bytes: 70_000, label: '50 × 70 KB' },
  { clients: 200, bytes: 70_000, label: '200 × 70 KB' },
  { clients: 50, bytes: 5 * 1024 * 1024, label: '50 × 5 MiB' },
  { clients: 200, bytes: 5 * 1024 * 1024, label: '200 × 5 MiB' },
];
const STORM_BLKSIZE = 1432; // what iPXE asks for
/** A throughput run slower than SIZE/60 s counts as failed (atftpd crawls at some window sizes). */
const TPUT_TIMEOUT_MS = opt('tput-timeout-s', 60) * 1000;
const RUN_TIMEOUT_MS = 180_000;

const here = path.dirname(fileURLToPath(import.meta.url));
const serverJs = path.join(here, 'server.js');
const ns = `lb-bn${crypto.randomBytes(3).toString('hex')}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-tftp-bench-'));
const outDir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'lb-tftp-bench-out-'));

interface Peer {
  name: string;
  port: number;
  windowed: boolean;
  argv(): string[];
  pid?: number;
  proc?: ReturnType<typeof spawn>;
  /** cgroup v2 directory the server runs in (CPU accounting). */
  cgroup?: string;
}

const peers: Peer[] = [
  {
    name: 'lanboot',
    port: 6904,
    windowed: true,
    argv: () => [process.execPath, serverJs, JSON.stringify({ root: dir, port: 6904, address: '127.0.0.1', max_transfers: 2000 })],
  },
  {
    name: 'tftp-hpa',
    port: 6901,
    windowed: false,
    argv: () => ['/opt/tftpd-hpa/usr/sbin/in.tftpd', '-L', '-u', 'root', '-s', dir, '-a', '127.0.0.1:6901'],
  },
  {
    name: 'atftpd',
    port: 6902,
    windowed: true,
    argv: () => [
      'atftpd', '--daemon', '--no-fork', '--port', '6902', '--bind-address', '127.0.0.1',
      '--user', 'root.root', '--logfile', '/dev/null', '--maxthread', '2000', dir,
    ],
  },
  {
    name: 'dnsmasq',
    port: 69,
    windowed: false,
    argv: () => [
      'dnsmasq', '-k', '-C', '/dev/null', '--port=0', '--enable-tftp', `--tftp-root=${dir}`, '--tftp-max=2000',
      '--user=root', '--quiet-tftp', '--log-facility=/dev/null', '--pid-file=',
    ],
  },
];

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function nsRun(args: string[], timeoutMs = RUN_TIMEOUT_MS): Promise<{ code: number; out: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const p = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (c) => (out += String(c)));
    p.stderr!.on('data', () => undefined);
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
  });
}

async function startPeer(p: Peer): Promise<void> {
  const a = p.argv();
  const proc = spawn('ip', ['netns', 'exec', ns, ...a], { stdio: ['ignore', 'ignore', 'pipe'] });
  p.proc = proc;
  p.pid = proc.pid;
  // Before the server forks anything: children inherit the cgroup.
  p.cgroup = cpuGroup(p);
  proc.stderr!.on('data', () => undefined);
  // wait for the port to be bound in the namespace
  for (let i = 0; i < 200; i++) {
    const ss = sh('ip', ['netns', 'exec', ns, 'ss', '-lun']);
    if (ss.includes(`127.0.0.1:${p.port} `) || ss.includes(`0.0.0.0:${p.port} `) || ss.includes(`*:${p.port} `)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${p.name} did not start`);
}

async function stopPeer(p: Peer): Promise<void> {
  if (!p.proc || p.proc.exitCode !== null) return;
  const done = new Promise((r) => p.proc!.once('close', r));
  p.proc.kill('SIGTERM');
  await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
  if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
}

const median = (xs: number[]) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};

/** Where cgroup v2 is mounted (pure v2 or the hybrid 'unified' mount), if anywhere. */
const CGROUP2 = (() => {
  try {
    const m = fs.readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
    return m?.split(' ')[1];
  } catch {
    return undefined;
  }
})();

/**
 * Each server runs in a cgroup of its own so its CPU time counts every thread
 * and every forked child (tftp-hpa forks one per transfer and ignores SIGCHLD,
 * so /proc's cutime never sees them). Microseconds, NaN without cgroup v2.
 */
function cpuGroup(p: Peer): string | undefined {
  if (!CGROUP2 || !p.pid) return undefined;
  const dir = path.join(CGROUP2, `${ns}-${p.name}`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(p.pid));
    return dir;
  } catch {
    return undefined;
  }
}

function cpuSeconds(p: Peer): number {
  if (!p.cgroup) return NaN;
  try {
    const m = /usage_usec (\d+)/.exec(fs.readFileSync(path.join(p.cgroup, 'cpu.stat'), 'utf8'));
    return m ? Number(m[1]) / 1e6 : NaN;
  } catch {
    return NaN;
  }
}

/** MB/s (10^6 bytes per second) for one download, NaN on failure; server CPU µs per DATA block. */
async function curlOnce(p: Peer, blksize: number): Promise<{ mbs: number; cpuUsPerBlock: number }> {
  const cpu0 = cpuSeconds(p);
  const r = await nsRun([
    'curl', '-s', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', '--tftp-blksize', String(blksize),
    `tftp://127.0.0.1:${p.port}/big`,
  ], TPUT_TIMEOUT_MS);
  const [size, t] = r.out.trim().split(' ').map(Number);
  if (r.code !== 0 || size !== SIZE || !t) return { mbs: NaN, cpuUsPerBlock: NaN };
  await new Promise((res) => setTimeout(res, 200)); // tftp-hpa's child sees the last ACK and exits
  const blocks = Math.floor(SIZE / blksize) + 1;
  return { mbs: SIZE / 1e6 / t, cpuUsPerBlock: ((cpuSeconds(p) - cpu0) * 1e6) / blocks };
}

async function atftpOnce(p: Peer, blksize: number, windowsize: number): Promise<number> {
  const dest = path.join(outDir, `w-${p.name}`);
  const r = await nsRun([
    'atftp', '-g', '-r', 'big', '-l', dest, '--option', `blksize ${blksize}`, '--option', `windowsize ${windowsize}`,
    '127.0.0.1', String(p.port),
  ], TPUT_TIMEOUT_MS);
  let ok = false;
  try {
    ok = fs.statSync(dest).size === SIZE;
    fs.rmSync(dest);
  } catch {
    ok = false;
  }
  if (r.code !== 0 || !ok) return NaN;
  return SIZE / 1e6 / (r.ms / 1000);
}

function rssKb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** All clients at once from one shell in the namespace; returns seconds, failures, RSS peak (lanboot). */
async function storm(p: Peer, clients: number, file: string, bytes: number): Promise<{ s: number; failures: number; rssMb: number }> {
  const script = [
    `for i in $(seq 1 ${clients}); do`,
    `  ( s=$(curl -s -o /dev/null -w '%{size_download}' --tftp-blksize ${STORM_BLKSIZE} tftp://127.0.0.1:${p.port}/${file}); echo "$? $s" ) &`,
    'done; wait',
  ].join('\n');
  let peak = 0;
  const pid = p.name === 'lanboot' ? p.pid : undefined;
  const sampler = pid ? setInterval(() => (peak = Math.max(peak, rssKb(pid))), 20) : undefined;
  const r = await nsRun(['bash', '-c', script]);
  if (sampler) clearInterval(sampler);
  peak = Math.max(peak, rssKb(pid));
  const lines = r.out.trim().split('\n').filter(Boolean);
  const ok = lines.filter((l) => l === `0 ${bytes}`).length;
  return { s: r.ms / 1000, failures: clients - ok, rssMb: peak / 1024 };
}

function fmt(x: number, d = 1): string {
  return Number.isFinite(x) ? x.toFixed(d) : 'fail';
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespace, port 69 for dnsmasq)');
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  // in.tftpd resolves its -a address with AI_ADDRCONFIG, which fails when the
  // namespace has no non-loopback address: give it one on a private veth.
  sh('ip', ['-n', ns, 'link', 'add', 'lb-bva', 'type', 'veth', 'peer', 'name', 'lb-bvb']);
  sh('ip', ['-n', ns, 'addr', 'add', '10.254.0.1/30', 'dev', 'lb-bva']);
  sh('ip', ['-n', ns, 'link', 'set', 'lb-bva', 'up']);
  sh('ip', ['-n', ns, 'link', 'set', 'lb-bvb', 'up']);
  fs.chmodSync(dir, 0o755);
  const write = (name: string, n: number) => {
    const fd = fs.openSync(path.join(dir, name), 'w', 0o644);
    const chunk = crypto.randomBytes(1 << 20);
    for (let off = 0; off < n; off += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, n - off));
    fs.closeSync(fd);
  };
  write('big', SIZE);
  write('f70k', 70_000);
  write('f5m', 5 * 1024 * 1024);
  const only = argv.includes('--peers') ? argv[argv.indexOf('--peers') + 1]!.split(',') : undefined;
  const active = only ? peers.filter((p) => only.includes(p.name)) : peers;
  for (const p of active) await startPeer(p);
  const tput = new Map<string, number[]>(); // key `${mode}|${blksize}|${peer}`
  const add = (k: string, v: number) => tput.set(k, [...(tput.get(k) ?? []), v]);
  const stormRes = new Map<string, Array<{ s: number; failures: number; rssMb: number }>>();

  if (!flag('skip-throughput')) {
    for (let r = 0; r < ROUNDS; r++) {
      const order = active.map((_, i) => active[(i + r) % active.length]!);
      for (const b of BLKSIZES) {
        for (const p of order) {
          const v = await curlOnce(p, b);
          add(`curl|${b}|${p.name}`, v.mbs);
          add(`cpu|${b}|${p.name}`, v.cpuUsPerBlock);
          process.stderr.write(`round ${r + 1} curl blksize ${b} ${p.name}: ${fmt(v.mbs)} MB/s, server CPU ${fmt(v.cpuUsPerBlock, 2)} µs/block\n`);
        }
      }
      for (const w of WINDOWS) {
        for (const b of WIN_BLKSIZES) {
          for (const p of order.filter((x) => x.windowed)) {
            const v = await atftpOnce(p, b, w);
            add(`ws${w}|${b}|${p.name}`, v);
            process.stderr.write(`round ${r + 1} atftp windowsize ${w} blksize ${b} ${p.name}: ${fmt(v)} MB/s\n`);
          }
        }
      }
    }
  }

  if (!flag('skip-storm')) {
    // A fresh lanboot so its RSS reflects the storms, not the 100 MiB runs.
    const lb = active.find((p) => p.name === 'lanboot');
    if (lb) {
      await stopPeer(lb);
      await startPeer(lb);
    }
    for (let r = 0; r < ROUNDS; r++) {
      const order = active.map((_, i) => active[(i + r) % active.length]!);
      for (const st of STORMS) {
        for (const p of order) {
          const res = await storm(p, st.clients, st.bytes === 70_000 ? 'f70k' : 'f5m', st.bytes);
          const k = `${st.label}|${p.name}`;
          stormRes.set(k, [...(stormRes.get(k) ?? []), res]);
          process.stderr.write(
            `round ${r + 1} storm ${st.label} ${p.name}: ${res.s.toFixed(2)} s, ${res.failures} failures` +
              (p.name === 'lanboot' ? `, RSS peak ${res.rssMb.toFixed(1)} MB` : '') + '\n',
          );
        }
      }
    }
  }

  const names = active.map((p) => p.name);
  const lines: string[] = [];
  lines.push(`TFTP benchmark: loopback in a network namespace, ${SIZE / 1048576} MiB file, median of ${ROUNDS} interleaved round(s); MB/s = 10^6 bytes/s.`);
  lines.push('');
  if (tput.size) {
    lines.push(`| client, mode | blksize | ${names.join(' | ')} |`);
    lines.push(`|---|---:|${names.map(() => '---:').join('|')}|`);
    for (const b of BLKSIZES)
      lines.push(`| curl, lock-step | ${b} | ${names.map((n) => fmt(median(tput.get(`curl|${b}|${n}`) ?? []))).join(' | ')} |`);
    for (const w of WINDOWS)
      for (const b of WIN_BLKSIZES)
        lines.push(
          `| atftp, windowsize ${w} | ${b} | ${active.map((p) => (p.windowed ? fmt(median(tput.get(`ws${w}|${b}|${p.name}`) ?? [])) : 'n/a')).join(' | ')} |`,
        );
    lines.push('');
    // The client (curl) costs as much per block as the server, so MB/s moves with the machine's
    // load; the server's own CPU per block is the steadier comparison.
    lines.push('Server CPU per DATA block in the lock-step runs (µs, median; cgroup v2 cpu.stat, all threads and children):');
    lines.push('');
    lines.push(`| blksize | ${names.join(' | ')} |`);
    lines.push(`|---:|${names.map(() => '---:').join('|')}|`);
    for (const b of BLKSIZES) lines.push(`| ${b} | ${names.map((n) => fmt(median(tput.get(`cpu|${b}|${n}`) ?? []), 2)).join(' | ')} |`);
    lines.push('');
  }
  if (stormRes.size) {
    lines.push(`Boot storm: concurrent curl clients (--tftp-blksize ${STORM_BLKSIZE}), seconds until all finished (failures), median of ${ROUNDS}.`);
    lines.push('');
    lines.push(`| storm | ${names.join(' | ')} | lanboot RSS peak |`);
    lines.push(`|---|${names.map(() => '---:').join('|')}|---:|`);
    for (const st of STORMS) {
      const cells = names.map((n) => {
        const rs = stormRes.get(`${st.label}|${n}`) ?? [];
        const f = rs.reduce((a, x) => a + x.failures, 0);
        return `${fmt(median(rs.map((x) => x.s)), 2)} s (${f})`;
      });
      const lbRss = Math.max(0, ...(stormRes.get(`${st.label}|lanboot`) ?? []).map((x) => x.rssMb));
      lines.push(`| ${st.label} | ${cells.join(' | ')} | ${lbRss ? `${lbRss.toFixed(1)} MB` : 'n/a'} |`);
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
}

async function cleanup(): Promise<void> {
  for (const p of peers) await stopPeer(p).catch(() => undefined);
  for (const p of peers) {
    // An empty cgroup can be removed; tftp-hpa's last children may take a moment to go.
    for (let i = 0; p.cgroup && i < 20; i++) {
      try {
        fs.rmdirSync(p.cgroup);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  try {
    sh('ip', ['netns', 'del', ns]);
  } catch {
    /* not created */
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(outDir, { recursive: true, force: true });
}

main()
  .catch((e) => {
    process.stderr.write(`bench failed: ${(e as Error).message}\n`);
    process.exitCode = 1;
  })
  .finally(() => void cleanup());
