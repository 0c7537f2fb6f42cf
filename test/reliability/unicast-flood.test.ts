/**
 * Issue 9 item 4: replies to addresses that never answer ARP must not take
 * memory or the socket from everyone else.
 *
 *   F (f0 10.91.0.2) ──veth── sf 10.91.0.1/24 ┐ S: lanboot DHCP
 *   C (c0 udhcpc)    ──veth── sc 10.92.0.1/24 ┘    (packet sockets on sf, sc; UDP on 0.0.0.0:67/4011)
 *
 * F floods, from a packet socket, requests whose replies go to on-link
 * addresses nobody holds: DHCPINFORM with such a ciaddr (authoritative), and
 * PXE requests to 4011 from such a source (proxy). Meanwhile a real client on
 * C must be served within its normal timeout: udhcpc's lease and its unicast
 * renewal (answered over the same UDP socket as the flood's replies), or a
 * 4011 request. The server's RSS must stay bounded and the drops be counted.
 * Before the fix the replies queued in libuv without limit (tens of MB per
 * second) and the renewal's ACK waited behind them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, startServer, craftedClient, type ServerHandle } from '../dhcp/netns.js';

const FLOOD = fileURLToPath(new URL('./fixtures/flood.ts', import.meta.url));
const lab = new Lab();
let dir: string;
let S: string, F: string, C: string;
let serverMac: string;
/** On-link on the flood subnet, held by nobody: ARP for them is never answered. */
const DEAD = Array.from({ length: 40 }, (_, i) => `10.91.0.${150 + i}`);
/** 30,000 requests at 5,000/s: a rate the server keeps up with, so only the send path is tested. */
const COUNT = 30_000;
/**
 * What the server may grow by while flooded. Measured here: 30-45 MB with the
 * bound (heap growth from handling 30,000 requests), 126-130 MB without it
 * (the replies queued in libuv), where the renewal and the 4011 client also
 * went unanswered.
 */
const RSS_GROWTH_MAX = 75 * 1024 * 1024;

const yaml = (mode: 'authoritative' | 'proxy', state: string) => `
interfaces: [sf, sc]
state_dir: ${state}
log: { level: warn }
dhcp:
  mode: ${mode}
  address: 0.0.0.0
  subnets:
    - { subnet: 10.91.0.0/24, range: 10.91.0.100-10.91.0.120, lease: 1h, interface: sf }
    - { subnet: 10.92.0.0/24, range: 10.92.0.100-10.92.0.120, router: 10.92.0.1, lease: 1h, interface: sc }
boot:
  bios: undionly.kpxe
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lb-flood-'));
  S = lab.ns('s');
  F = lab.ns('f');
  C = lab.ns('c');
  lab.link(S, 'sf', '10.91.0.1/24', F, 'f0', '10.91.0.2/24');
  lab.link(S, 'sc', '10.92.0.1/24', C, 'c0', '');
  serverMac = lab.exec(S, 'cat /sys/class/net/sf/address').trim();
}, 30_000);

afterAll(() => {
  lab.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Start the flood in F; resolves with the count sent. Samples the server's RSS meanwhile. */
function flood(kind: 'inform' | 'proxy', server: ServerHandle): { done: Promise<number>; peak: () => number } {
  let peak = rss(server.proc.pid!);
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rss(server.proc.pid!));
    } catch {
      /* exited */
    }
  }, 100);
  const spec = { ifname: 'f0', serverMac, serverIp: '10.91.0.1', kind, count: COUNT, perMs: 5, src: '10.91.0.2', dead: DEAD };
  const p = spawn('ip', ['netns', 'exec', F, process.execPath, '--import', 'tsx', FLOOD, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  lab.procs.push(p);
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number>((resolve, reject) => {
    p.on('exit', (code) => {
      clearInterval(sampler);
      if (code === 0) resolve((JSON.parse(out.trim().split('\n').pop()!) as { sent: number }).sent);
      else reject(new Error(`flood exited ${code}: ${out}`));
    });
  });
  return { done, peak: () => peak };
}

function counters(stopped: Record<string, unknown> | undefined): Record<string, number> {
  return ((stopped?.counters as Record<string, number>) ?? {});
}

async function waitForLine(file: string, re: RegExp, ms: number): Promise<string | undefined> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const hit = existsSync(file) ? readFileSync(file, 'utf8').split('\n').find((l) => re.test(l)) : undefined;
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

describe('unicast replies to addresses that never answer ARP', () => {
  it('an INFORM flood: bounded memory, drops counted, udhcpc still leases and renews in time', async () => {
    const state = mkdtempSync(join(dir, 'a-'));
    const server = await startServer(lab, S, state, yaml('authoritative', state));
    const base = rss(server.proc.pid!);
    const f = flood('inform', server);

    // udhcpc during the flood: a lease (broadcast, packet socket), then a unicast renewal whose
    // ACK leaves by the UDP socket that carries the flood's replies.
    const out = join(state, 'udhcpc.out');
    const script = join(state, 'script.sh');
    writeFileSync(
      script,
      `#!/bin/sh\ncase "$1" in bound|renew) ip addr flush dev $interface; ip addr add $ip/$mask dev $interface;; esac\necho "$1 $ip" >> ${out}\n`,
      { mode: 0o755 },
    );
    await new Promise((r) => setTimeout(r, 500));
    const udhcpc = spawn('ip', ['netns', 'exec', C, 'busybox', 'udhcpc', '-i', 'c0', '-f', '-t', '5', '-T', '2', '-s', script], { stdio: 'ignore' });
    lab.procs.push(udhcpc);
    const bound = await waitForLine(out, /^bound /, 12_000);
    expect(bound, 'udhcpc got no lease during the flood').toMatch(/^bound 10\.92\.0\.1\d\d$/);
    udhcpc.kill('SIGUSR1'); // renew now: unicast REQUEST, unicast ACK
    const renewed = await waitForLine(out, /^renew /, 8_000);
    udhcpc.kill('SIGKILL');

    const sent = await f.done;
    const peak = f.peak();
    const stopped = await server.stop();
    const c = counters(stopped);
    expect(sent).toBe(COUNT);
    expect(renewed, 'the renewal was not answered during the flood').toBe(bound!.replace('bound', 'renew'));
    expect(peak - base, `RSS grew by ${((peak - base) / 1048576).toFixed(1)} MB`).toBeLessThan(RSS_GROWTH_MAX);
    expect(c['lanboot_udp_send_dropped_total{"service":"dhcp","reason":"unresolved"}'] ?? 0).toBeGreaterThan(COUNT / 2);
  }, 90_000);

  it('a flood of 4011 requests from such sources: bounded memory, drops counted, a real 4011 client answered', async () => {
    const state = mkdtempSync(join(dir, 'p-'));
    const server = await startServer(lab, S, state, yaml('proxy', state));
    const base = rss(server.proc.pid!);
    const f = flood('proxy', server);
    await new Promise((r) => setTimeout(r, 1000));
    lab.exec(C, 'ip addr flush dev c0; ip addr add 10.92.0.50/24 dev c0');
    const hex = (s: string) => Buffer.from(s).toString('hex');
    const pxe = { '60': hex('PXEClient:Arch:00000:UNDI:002001'), '93': '0000', '94': '010201', '97': '00' + '33'.repeat(16) };
    // A PXE ROM waits about 4 s for the 4011 answer before it asks again.
    const replies = craftedClient(lab, C, {
      timeoutMs: 4000,
      steps: [{ mac: '52:54:00:cc:00:42', type: 3, options: pxe, flags: 0, ciaddr: '10.92.0.50', to: '10.92.0.1', port: 4011 }],
    });
    const sent = await f.done;
    const peak = f.peak();
    const stopped = await server.stop();
    const c = counters(stopped);
    expect(sent).toBe(COUNT);
    expect(replies.map((r) => [r.from, r.fromPort, r.file])).toEqual([['10.92.0.1', 4011, 'undionly.kpxe']]);
    expect(peak - base, `RSS grew by ${((peak - base) / 1048576).toFixed(1)} MB`).toBeLessThan(RSS_GROWTH_MAX);
    expect(c['lanboot_udp_send_dropped_total{"service":"dhcp","reason":"unresolved"}'] ?? 0).toBeGreaterThan(COUNT / 2);
  }, 90_000);
});
