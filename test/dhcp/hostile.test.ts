/**
 * A hostile LAN against the lease store (issue 9): a full pool flooded with
 * DISCOVERs from new MACs (item 7), and two spoofed packets that used to keep
 * a static host off the network for the whole DECLINE hold (item 9). In each,
 * a real client (udhcpc) must still get its lease within its normal timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, startServer, craftedClient, clientScript, sh, type ServerHandle } from './netns.js';
import { encodeFrame } from '../../src/leases/journal.js';

const STATIC_MAC = '52:54:00:77:00:10';
const STATIC_IP = '10.77.0.10';

const lab = new Lab();
let dir: string;
let S: string, C: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lb-hostile-'));
  S = lab.ns('s');
  C = lab.ns('c');
  lab.link(S, 's0', '10.77.0.1/16', C, 'c0', '10.77.0.2/16', STATIC_MAC);
  // The crafted client and perfdhcp send to 255.255.255.255 and need a route for it.
  lab.exec(C, 'ip route add default dev c0');
  clientScript(join(dir, 'script.sh'), join(dir, 'udhcpc.out'));
});

afterAll(() => {
  lab.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const yaml = (extra = '') => `
interfaces: [s0]
state_dir: ${dir}
log: { level: info }
dhcp:
  mode: authoritative
  arp_probe: true
  subnets:
    - { subnet: 10.77.0.0/16, range: 10.77.1.0-10.77.200.255, router: 10.77.0.1, lease: 1h }
${extra}
hosts:
  ${STATIC_MAC}: { name: pc10, ip: ${STATIC_IP} }
`;

/** udhcpc as the static host: its address, or '' when it got none in its normal 5 tries x 2 s. */
function staticHostLease(): string {
  writeFileSync(join(dir, 'udhcpc.out'), '');
  lab.exec(C, `timeout 20 busybox udhcpc -i c0 -n -q -f -t 5 -T 2 -s ${join(dir, 'script.sh')}`, { timeout: 30_000, allowFail: true });
  return /arg=bound .*ip=(\S+)/.exec(readFileSync(join(dir, 'udhcpc.out'), 'utf8'))?.[1] ?? '';
}

describe('hostile LAN against the lease store', () => {
  it('a spoofed DISCOVER + DECLINE with a static host\'s MAC does not keep it off the network (item 9)', async () => {
    const server: ServerHandle = await startServer(lab, S, dir, yaml());
    try {
      const serverId = Buffer.from([10, 77, 0, 1]).toString('hex');
      const ipHex = Buffer.from(STATIC_IP.split('.').map(Number)).toString('hex');
      const replies = craftedClient(lab, C, {
        steps: [
          { mac: STATIC_MAC, type: 1 }, // DISCOVER: offered the fixed address
          { mac: STATIC_MAC, type: 4, options: { 54: serverId, 50: ipHex }, expect: 0 }, // DECLINE it
        ],
        timeoutMs: 2000,
      });
      expect(replies[0]?.yiaddr).toBe(STATIC_IP);
      await server.waitFor((l) => l.event === 'dhcp.decline');
      expect(staticHostLease()).toBe(STATIC_IP);
    } finally {
      await server.stop();
      rmSync(join(dir, 'leases.journal'), { force: true });
    }
  }, 60_000);

  it('a full 51,200-address pool flooded with DISCOVERs from new MACs still serves a static host (item 7)', async () => {
    // 51,200 live leases, written straight into the journal the server loads.
    const exp = Date.now() + 3_600_000;
    const frames: Buffer[] = [];
    for (let i = 0; i < 51_200; i++) {
      const ip = `10.77.${1 + (i >> 8)}.${i & 255}`;
      const mac = `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      frames.push(encodeFrame({ t: 'L', ip, key: `hw:01:${mac.replace(/:/g, '')}`, mac, exp }));
    }
    writeFileSync(join(dir, 'leases.journal'), Buffer.concat(frames));
    const server = await startServer(lab, S, dir, yaml());
    try {
      await server.waitFor((l) => l.event === 'dhcp.journal' && l.records === 51_200);
      // 300 DISCOVERs/s from new MACs for the whole time udhcpc needs.
      const flood = lab.spawn(C, ['perfdhcp', '-4', '-l', 'c0', '-r', '300', '-R', '1000000', '-p', '14', '-i', '10.77.0.1']);
      flood.stdout!.resume();
      flood.stderr!.resume();
      await new Promise((r) => setTimeout(r, 2000));
      const got = staticHostLease();
      flood.kill('SIGINT');
      expect(got).toBe(STATIC_IP);
      const st = await server.stop();
      const counters = (st?.counters ?? {}) as Record<string, number>;
      // The flood really reached the server and found the pool full.
      expect(counters['lanboot_dhcp_dropped_total{"reason":"pool_exhausted"}'] ?? 0).toBeGreaterThan(300);
    } finally {
      await server.stop();
      sh(`rm -f ${join(dir, 'leases.journal')}`);
    }
  }, 90_000);
});
