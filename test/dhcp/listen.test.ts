/**
 * Listening like dnsmasq without interface=: with `interfaces` unset, DHCP
 * serves every interface whose address lies in a configured subnet, picks up
 * an interface that gets such an address later, drops one that loses it, and
 * warns (not debug) about a broadcast that came in on an interface it does
 * not serve.
 *   S: s0 10.77.0.1/24 (subnet) -- C0     s1 10.88.0.1/24 (no subnet) -- C1
 *      s2 (no address at start; later 10.99.0.1/24, a subnet) -- C2
 *      s3 10.66.0.1/24 (a subnet, but in except_interfaces) -- C3
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, startServer, clientScript, type ServerHandle } from './netns.js';
import { servedInterfaces, type ListenRule } from '../../src/dhcp/listen.js';

const subnet = (cidr: string, iface?: string) => {
  const [network, bits] = cidr.split('/') as [string, string];
  return { subnet: cidr, network, prefix: Number(bits), interface: iface };
};
const found = (ifname: string, address: string, prefix = 24, loopback = false) => ({ ifname, loopback, ipv4: [{ address, prefix, netmask: '' }] });

describe('the listening rule', () => {
  const subnets = [subnet('10.77.0.0/24'), subnet('10.99.0.0/24', 'lan9')];
  const ifs = [found('lo', '127.0.0.1', 8, true), found('lan0', '10.77.0.1'), found('wan0', '192.0.2.2'), found('lan9', '172.16.0.1'), found('lan1', '10.77.0.2')];

  it('unset: interfaces with an address in a subnet, and those a subnet names; never loopback', () => {
    const r: ListenRule = { except: [], subnets: [...subnets, subnet('127.0.0.0/8')] };
    expect([...servedInterfaces(r, ifs)]).toEqual([
      ['lan0', '10.77.0.1/24 in 10.77.0.0/24'],
      ['lan9', 'named by subnet 10.99.0.0/24'],
      ['lan1', '10.77.0.2/24 in 10.77.0.0/24'],
    ]);
  });
  it('except_interfaces wins, over the rule and over a list', () => {
    expect([...servedInterfaces({ except: ['lan1'], subnets }, ifs).keys()]).toEqual(['lan0', 'lan9']);
    expect([...servedInterfaces({ interfaces: ['lan0', 'lan1'], except: ['lan1'], subnets }, ifs).keys()]).toEqual(['lan0']);
  });
  it('a list is taken as written; [] serves none (UDP only)', () => {
    expect([...servedInterfaces({ interfaces: ['wan0'], except: [], subnets }, ifs).keys()]).toEqual(['wan0']);
    expect(servedInterfaces({ interfaces: [], except: [], subnets }, ifs).size).toBe(0);
  });
});

const lab = new Lab();
let dir: string;
let server: ServerHandle;
let S: string, C0: string, C1: string, C2: string, C3: string;

function udhcpc(ns: string, ifname: string, name: string, tries = 5): string {
  const out = join(dir, `${name}.out`);
  writeFileSync(out, '');
  clientScript(join(dir, `${name}.sh`), out);
  lab.exec(ns, `timeout 20 busybox udhcpc -i ${ifname} -n -q -f -t ${tries} -T 1 -s ${join(dir, `${name}.sh`)}`, { timeout: 30_000, allowFail: true });
  return readFileSync(out, 'utf8');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lb-dhcplisten-'));
  S = lab.ns('s');
  C0 = lab.ns('c0');
  C1 = lab.ns('c1');
  C2 = lab.ns('c2');
  C3 = lab.ns('c3');
  lab.link(S, 's0', '10.77.0.1/24', C0, 'c0', '');
  lab.link(S, 's1', '10.88.0.1/24', C1, 'c1', '');
  lab.link(S, 's2', '', C2, 'c2', '');
  lab.link(S, 's3', '10.66.0.1/24', C3, 'c3', '');
  // No interfaces: key; no arp_probe: key. The defaults are what is tested.
  server = await startServer(
    lab, S, dir,
    `state_dir: ${dir}\nexcept_interfaces: [s3]\ndhcp:\n  subnets:\n` +
      `    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.110, lease: 1h }\n` +
      `    - { subnet: 10.99.0.0/24, range: 10.99.0.100-10.99.0.110, lease: 1h }\n` +
      `    - { subnet: 10.66.0.0/24, range: 10.66.0.100-10.66.0.110, lease: 1h }\n`,
  );
}, 60_000);

afterAll(async () => {
  await server?.stop().catch(() => undefined);
  lab.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('interfaces unset: served by subnet, as dnsmasq', () => {
  it('opens a packet socket on the interface in a subnet only (not the other, not the excluded one)', async () => {
    const ready = server.lines.find((l) => l.event === 'ready') as { listening: Array<{ address: string; detail?: string }> };
    expect(ready.listening.filter((l) => l.detail?.startsWith('packet socket')).map((l) => l.address)).toEqual(['s0']);
    expect(udhcpc(C0, 'c0', 'c0')).toMatch(/arg=bound .*ip=10\.77\.0\.1\d\d /);
  }, 60_000);

  it('a broadcast on an unserved interface is not answered and is warned about, naming it', async () => {
    expect(udhcpc(C1, 'c1', 'c1', 2)).not.toMatch(/arg=bound/);
    const w = await server.waitFor((l) => l.event === 'dhcp.unserved_interface');
    expect(w.level).toBe(40); // warn
    expect(w.candidates).toContain('s1');
    expect(w.candidates).not.toContain('s3'); // excluded on purpose: not a candidate
    expect(String(w.msg)).toMatch(/s1 \(10\.88\.0\.1\/24\)/);
  }, 60_000);

  it('an interface that gets an address in a subnet later is served within the rescan period', async () => {
    expect(udhcpc(C2, 'c2', 'c2a', 2)).not.toMatch(/arg=bound/);
    lab.exec(S, 'ip addr add 10.99.0.1/24 dev s2');
    const added = await server.waitFor((l) => l.event === 'dhcp.interface_added' && l.iface === 's2', 15_000);
    expect(added.why).toBe('10.99.0.1/24 in 10.99.0.0/24');
    expect(udhcpc(C2, 'c2', 'c2b')).toMatch(/arg=bound .*ip=10\.99\.0\.1\d\d /);
    lab.exec(S, 'ip addr flush dev s2');
    await server.waitFor((l) => l.event === 'dhcp.interface_removed' && l.iface === 's2', 15_000);
  }, 60_000);

  it('the excluded interface is never served, though its address is in a subnet', () => {
    expect(udhcpc(C3, 'c3', 'c3', 2)).not.toMatch(/arg=bound/);
    expect(server.lines.some((l) => l.event === 'dhcp.interface_added' && l.iface === 's3')).toBe(false);
  }, 60_000);
});
