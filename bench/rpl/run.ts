/**
 * RPL load benchmark (npm run bench:rpl): the compiled responder in one
 * namespace, the spec-only client simulator (test/rpl/fixtures/client.ts, via
 * tsx) in another, a veth pair between them. The client models an ISA boot
 * ROM: a small receive buffer (SO_RCVBUF) and a fixed busy time per frame
 * (copying it off the card). For each pacing it loads Debian's ipxe.pxe a few
 * times and reports load time, frames/s, the rate the pacing allows, kernel
 * drops and re-requests.
 *
 *   node dist/bench/rpl/run.js [--pacing 0,100,200,...] [--reps 3] [--rcvbuf 12288] [--rom-us 300] [--silence-ms 1000] [--json]
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const IMAGE = '/usr/lib/ipxe/ipxe.pxe';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

function packageRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('package root not found');
    d = up;
  }
  return d;
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 }).toString();
const quiet = (cmd: string, args: string[]) => {
  try {
    sh(cmd, args);
  } catch {
    // already gone
  }
};

interface Row {
  pacingUs: number;
  rep: number;
  ok: boolean;
  loadMs: number;
  clientMs: number;
  frames: number;
  blocks: number;
  fps: number;
  allowedFps: number;
  efficiency: number;
  rerequests: number;
  drops: number;
}

async function main(): Promise<void> {
  const pacings = arg('pacing', '0,200,500,700,1000,1500').split(',').map(Number);
  const reps = Number(arg('reps', '3'));
  const rcvbuf = Number(arg('rcvbuf', '12288'));
  const romUs = Number(arg('rom-us', '300'));
  const silenceMs = Number(arg('silence-ms', '1000'));
  const json = process.argv.includes('--json');
  const root = packageRoot();
  const size = readFileSync(IMAGE).length;

  const tag = randomBytes(3).toString('hex');
  const nsS = `lb-rbs${tag}`;
  const nsC = `lb-rbc${tag}`;
  const a = `lb-${tag}s`;
  const b = `lb-${tag}c`;
  const cleanup = () => {
    quiet('ip', ['netns', 'del', nsS]);
    quiet('ip', ['netns', 'del', nsC]);
    quiet('ip', ['link', 'del', a]);
  };
  process.once('exit', cleanup);
  process.once('SIGINT', () => process.exit(130));
  sh('ip', ['netns', 'add', nsS]);
  sh('ip', ['netns', 'add', nsC]);
  sh('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
  sh('ip', ['link', 'set', a, 'netns', nsS]);
  sh('ip', ['link', 'set', b, 'netns', nsC]);
  for (const [ns, ifn] of [
    [nsS, a],
    [nsC, b],
  ] as const) {
    sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${ifn}.disable_ipv6=1`]);
    sh('ip', ['-n', ns, 'link', 'set', ifn, 'up']);
  }

  // One host per (pacing, rep), so every load is a fresh client with its own log line.
  const hosts: Record<string, object> = {};
  const macOf = (pi: number, rep: number) => `02:52:42:00:${pi.toString(16).padStart(2, '0')}:${rep.toString(16).padStart(2, '0')}`;
  pacings.forEach((p, pi) => {
    for (let r = 0; r < reps; r++) {
      hosts[macOf(pi, r)] = { image: { files: [{ path: IMAGE, offset: 0, load: 0x7c00 }], execute: 0x7c00 }, frameSize: 1500, blockSize: 1440, pacingUs: p, ackEvery: 0 };
    }
  });
  const server = spawn('ip', ['netns', 'exec', nsS, process.execPath, join(root, 'dist/bench/rpl/server.js'), JSON.stringify({ ifnames: [a], root, hosts })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const events: any[] = [];
  let ready!: () => void;
  const readyP = new Promise<void>((r, reject) => {
    ready = r;
    server.once('exit', (code) => reject(new Error(`server exited (${code}) before it was ready`)));
  });
  createInterface({ input: server.stdout! }).on('line', (l) => {
    const o = JSON.parse(l);
    if (o.ready) ready();
    else events.push(o);
  });
  await readyP;

  const rows: Row[] = [];
  try {
    for (const [pi, pacingUs] of pacings.entries()) {
      for (let rep = 0; rep < reps; rep++) {
        const mac = macOf(pi, rep);
        const out = sh('ip', [
          'netns',
          'exec',
          nsC,
          process.execPath,
          '--import',
          'tsx',
          join(root, 'test/rpl/fixtures/client.ts'),
          JSON.stringify({ ifname: b, rcvbuf, processUs: romUs, timeoutMs: 60_000, clients: [{ mac, silenceMs, nakOnGap: false, maxRetries: 100 }] }),
        ]);
        const lines = out.trim().split('\n').map((l) => JSON.parse(l));
        const res = lines.find((l) => l.mac === mac);
        const done = lines.find((l) => l.done);
        // the server writes its load line after the settle time (or at once on the next FIND); wait for it
        let load: any;
        for (let i = 0; i < 100 && !(load = events.find((e) => e.event === 'rpl.load' && e.mac === mac)); i++) await new Promise((r) => setTimeout(r, 50));
        const loadMs = load?.duration_ms ?? NaN;
        const frames = load?.frames ?? res.framesReceived;
        const fps = frames / (loadMs / 1000);
        const allowedFps = pacingUs > 0 ? 1e6 / pacingUs : Infinity;
        rows.push({
          pacingUs,
          rep,
          ok: !!res?.ok,
          loadMs,
          clientMs: res?.elapsedMs,
          frames,
          blocks: res?.blocks,
          fps,
          allowedFps,
          efficiency: pacingUs > 0 ? fps / allowedFps : NaN,
          rerequests: load?.rerequests ?? res?.rerequests,
          drops: done?.drops ?? NaN,
        });
      }
    }
  } finally {
    server.stdin!.end();
    await new Promise((r) => setTimeout(r, 200));
    server.kill();
  }

  if (json) {
    process.stdout.write(JSON.stringify({ image: IMAGE, bytes: size, rcvbuf, romUs, silenceMs, rows }, null, 2) + '\n');
    return;
  }
  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  console.log(`RPL load of ${IMAGE} (${size} bytes, ${Math.ceil(size / 1440)} blocks of 1440) over veth`);
  console.log(`client model: SO_RCVBUF ${rcvbuf} (kernel doubles it), ${romUs} µs busy per frame, re-request after ${silenceMs} ms of silence`);
  console.log('pacing_us  rep  ok   load_ms  client_ms  frames   fps      allowed  eff   re-req  drops');
  for (const r of rows) {
    console.log(
      [
        f(r.pacingUs).padStart(9),
        String(r.rep).padStart(4),
        (r.ok ? 'yes' : 'NO').padStart(4),
        f(r.loadMs, 1).padStart(9),
        f(r.clientMs, 1).padStart(10),
        String(r.frames).padStart(7),
        f(r.fps).padStart(7),
        f(r.allowedFps).padStart(10),
        (Number.isFinite(r.efficiency) ? (r.efficiency * 100).toFixed(0) + '%' : '-').padStart(5),
        String(r.rerequests).padStart(7),
        String(r.drops).padStart(6),
      ].join(' '),
    );
  }
  const clean = pacings.filter((p) => rows.filter((r) => r.pacingUs === p).every((r) => r.ok && r.rerequests === 0 && r.drops === 0));
  console.log(`pacings with zero re-requests and zero drops in every run: ${clean.join(', ') || 'none'}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
