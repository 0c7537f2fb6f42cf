/**
 * Loss: inside a private network namespace, nftables drops a share of all UDP
 * packets on loopback (DATA, ACK, OACK alike). The server runs in that
 * namespace as its own process; lock-step and windowed downloads must still
 * be byte-exact, and the finished-transfer log line must count the
 * retransmissions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, sha256, tmpdir, until } from './helpers.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const ns = `lb-tl${crypto.randomBytes(3).toString('hex')}`;
const canRun = process.getuid?.() === 0 && fs.existsSync('/usr/sbin/nft');
let root: string;
let child: ChildProcess | undefined;
const logs: Array<Record<string, unknown>> = [];
const data = crypto.randomBytes(1 << 20);
const PORT = 6969;

const nsx = (cmd: string, args: string[], ms = 60_000) => run('ip', ['netns', 'exec', ns, cmd, ...args], ms);

beforeAll(async () => {
  if (!canRun) return;
  root = tmpdir('lb-tftp-loss-');
  fs.writeFileSync(path.join(root, 'f'), data);
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await nsx('nft', ['add', 'table', 'inet', 'lbloss']);
  await nsx('nft', ['add', 'chain', 'inet', 'lbloss', 'in', '{ type filter hook input priority 0; }']);
  // 4% of every UDP packet on lo, both directions; dropped on input so senders see no EPERM
  const r = await nsx('nft', ['add', 'rule', 'inet', 'lbloss', 'in', 'meta', 'l4proto', 'udp', 'numgen', 'random', 'mod', '100', '<', '4', 'counter', 'drop']);
  expect(r.code, r.stderr).toBe(0);
  const cfg = JSON.stringify({ root, port: PORT, address: '127.0.0.1', timeout: 0.5 });
  child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'test/tftp/fixtures/serve.ts', cfg], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  child.stdout!.on('data', (c) => {
    buf += String(c);
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        logs.push(JSON.parse(line));
      } catch {
        /* not JSON */
      }
    }
  });
  let listening = false;
  child.stderr!.on('data', (c) => {
    if (String(c).includes('LISTEN')) listening = true;
  });
  expect(await until(() => listening, 20_000)).toBe(true);
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGTERM');
  await run('ip', ['netns', 'del', ns]);
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!canRun)('packet loss (nftables in a test namespace)', () => {
  it('completes lock-step and windowed downloads byte-exact and logs retransmissions', async () => {
    // Boot ROMs retry a failed download, and so does this test, once: at 4 % loss a client can
    // give up on its own (atftp's windowed client does so rarely); the server must still deliver.
    const fetch = async (cmd: string, args: string[], out: string) => {
      let r = await nsx(cmd, args, 120_000);
      const same = () => fs.existsSync(out) && sha256(out) === sha256(data);
      if (r.code !== 0 || !same()) {
        console.log(`${cmd} failed once under loss (${r.code}: ${r.stderr.trim()}), retrying`);
        r = await nsx(cmd, args, 120_000);
      }
      expect(r.code, r.stderr).toBe(0);
      expect(sha256(out)).toBe(sha256(data));
    };
    const out1 = path.join(root, 'o1');
    await fetch('curl', ['-s', '-S', '--tftp-blksize', '1024', '-o', out1, `tftp://127.0.0.1:${PORT}/f`], out1);
    const out2 = path.join(root, 'o2');
    await fetch(
      'atftp',
      ['--tftp-timeout', '1', '-g', '-r', 'f', '-l', out2, '--option', 'blksize 1024', '--option', 'windowsize 8', '127.0.0.1', String(PORT)],
      out2,
    );
    // The client has checked every byte. On the server a transfer ends 'ok', or, when the drop
    // rule eats the client's last ACK (a few % of runs), with every block sent but the last
    // window unacknowledged: 'final-ack-timeout' after its retries, or 'client-gone' when the
    // retransmission meets the client's closed port. All three count as delivered here.
    const delivered = (l: Record<string, unknown>) =>
      l.file === 'f' &&
      ((l.event === 'tftp.done' && l.bytes === data.length) ||
        (['final-ack-timeout', 'client-gone'].includes(l.outcome as string) && (l.bytes as number) >= data.length - 8 * 1024));
    const full = () => logs.filter(delivered);
    const both = await until(() => new Set(full().map((l) => l.windowsize)).size >= 2, 30_000);
    if (!both) console.log(JSON.stringify(logs.filter((l) => String(l.event).startsWith('tftp.'))));
    expect(both).toBe(true);
    const done = full();
    console.log(done.map((l) => `${l.windowsize} ${l.outcome} ${l.duration_ms}ms rtx=${l.retransmissions} rtt=${l.rtt_ms}`).join('; '));
    for (const l of done) {
      expect(l).toMatchObject({ file: 'f', blksize: 1024 });
      expect(l.retransmissions as number).toBeGreaterThan(0);
    }
    expect([...new Set(done.map((l) => l.windowsize))].sort()).toEqual([1, 8]);
    const counters = await nsx('nft', ['list', 'ruleset']);
    expect(counters.stdout).toMatch(/counter packets [1-9]/);
  }, 240_000);
});
