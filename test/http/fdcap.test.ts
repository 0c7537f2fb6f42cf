/**
 * Issue 9, item 10: a LAN host that opens HTTP connections until lanboot runs
 * out of file descriptors must not take TFTP (which needs a socket per
 * transfer) down with it. `lanboot start` runs in a namespace under a low
 * RLIMIT_NOFILE; a hog in another namespace opens 1,000 connections and holds
 * them while curl fetches a file by TFTP; after the hog lets go a new client
 * fetches its script over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { NetnsScope, waitForOutput } from '../helpers/netns.js';
import { connectionCap, nofileLimit } from '../../src/http/fds.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NOFILE = 400;
const HOG = `
const net = require('net');
const socks = [];
let open = 0, closed = 0, done = 0;
for (let i = 0; i < 1000; i++) {
  const s = net.connect(80, '10.88.0.1');
  s.on('connect', () => open++);
  s.on('error', () => {});
  s.on('close', () => closed++);
  socks.push(s);
}
setTimeout(() => console.log(JSON.stringify({ open, closed })), 3000);
process.stdin.on('data', () => { for (const s of socks) s.destroy(); setTimeout(() => process.exit(0), 200); });
`;

describe('HTTP connection cap from RLIMIT_NOFILE', () => {
  it('reads the soft limit and leaves the reserve out, two descriptors per connection', () => {
    const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 4096                 files\n';
    expect(nofileLimit(limits)).toBe(1024);
    expect(nofileLimit(limits.replace('1024 ', 'unlimited'))).toBe(Infinity);
    expect(nofileLimit('')).toBeUndefined();
    expect(connectionCap(512, 1024, 40, 264)).toBe(360);
    expect(connectionCap(100, 1024, 40, 264)).toBe(100);
    expect(connectionCap(512, 300, 40, 264)).toBe(1); // no room: one, and a warning at start
    expect(connectionCap(512, undefined, 40, 264)).toBe(512);
  });
});

describe('HTTP connection cap keeps descriptors for TFTP (netns)', () => {
  const net = new NetnsScope();
  let nsS: string;
  let nsC: string;
  let lanboot: ChildProcess;
  let dir: string;
  const file = randomBytes(1 << 20);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lb-fdcap-'));
    mkdirSync(join(dir, 'root'));
    writeFileSync(join(dir, 'root', 'big.bin'), file);
    writeFileSync(
      join(dir, 'lanboot.yaml'),
      `server: 10.88.0.1
state_dir: ./state
log: { level: info }
tftp: { address: 10.88.0.1, port: 69, root: ./root, max_transfers: 50 }
http: { address: 10.88.0.1, port: 80, max_connections: 10000, max_connections_per_client: 10000 }
iscsi: { target: "iqn.2026-01.test:{name}", initiator: "iqn.2026-01.test:i:{name}" }
hosts:
  52:54:00:88:00:02: { name: pc02, boot: iscsi }
`,
    );
    nsS = await net.createNetns('lb-fds');
    nsC = await net.createNetns('lb-fdc');
    await net.addVethPair(nsS, nsC, { addrA: '10.88.0.1/24', addrB: '10.88.0.2/24' });
    lanboot = net.spawn(nsS, 'prlimit', [`--nofile=${NOFILE}:${NOFILE}`, process.execPath, '--import', 'tsx', join(ROOT, 'src/cli.ts'), 'start', '--config', join(dir, 'lanboot.yaml')], { cwd: ROOT });
    await waitForOutput(lanboot, /Try:|"event":"http.listen"/, 30_000);
  }, 60_000);

  afterAll(async () => {
    await net.cleanup();
  });

  const fds = () => readdirSync(`/proc/${lanboot.pid}/fd`).length;

  it('1,000 held connections neither exhaust descriptors nor stop a TFTP transfer; HTTP serves a new client after', async () => {
    expect(readFileSync(`/proc/${lanboot.pid}/comm`, 'utf8').trim()).toBe('node'); // prlimit exec'd it: we measure lanboot
    const hog = net.spawn(nsC, process.execPath, ['-e', HOG]);
    const counts = JSON.parse(await waitForOutput(hog, /"open"/, 20_000)) as { open: number; closed: number };
    const held = fds();
    // The server closed what it did not want; it still has descriptors to spare.
    expect(counts.open - counts.closed).toBeLessThan(NOFILE / 2);
    expect(held).toBeLessThan(NOFILE - 100);

    // While the hog holds its connections: a TFTP transfer gets its socket and completes.
    const out = join(dir, 'got.bin');
    const t = await net.exec(nsC, 'curl', ['-s', '--max-time', '20', '-o', out, 'tftp://10.88.0.1/big.bin']);
    expect(t.code).toBe(0);
    expect(readFileSync(out).equals(file)).toBe(true);

    // The hog lets go; a new client gets its script.
    hog.stdin!.write('x');
    await new Promise((r) => hog.once('exit', r));
    await new Promise((r) => setTimeout(r, 500));
    const h = await net.exec(nsC, 'curl', ['-s', '--max-time', '10', 'http://10.88.0.1/boot/52:54:00:88:00:02.ipxe']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^#!ipxe/);
    expect(h.stdout).toContain('iqn.2026-01.test:i:pc02');
  }, 90_000);
});
