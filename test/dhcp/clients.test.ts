/**
 * Real DHCP clients against lanboot's DHCP server, in network namespaces:
 *
 *   C0 (c0) ──veth── s0 10.77.0.1/24 ┐
 *   C1 (c1) ──veth── s1 10.88.0.1/24 ├ S: lanboot (packet sockets on s0, s1; dgram on 0.0.0.0:67)
 *                    s2 10.99.0.1/24 ┘
 *                          │ veth
 *   C2 (c2) ──veth── R: r-dn 10.66.0.1/24, r-up 10.99.0.2/24 (dhcrelay)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, startServer, craftedClient, clientScript, type ServerHandle } from './netns.js';

const lab = new Lab();
let dir: string;
let S: string, C0: string, C1: string, C2: string, R: string;
let server: ServerHandle;

const YAML = `
server: 10.77.0.1
interfaces: [s0, s1]
state_dir: STATE
log: { level: info }
dhcp:
  mode: authoritative
  address: 0.0.0.0
  subnets:
    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.199, router: 10.77.0.1, dns: [10.77.0.1], lease: 1h, interface: s0 }
    - { subnet: 10.88.0.0/24, range: 10.88.0.100-10.88.0.199, router: 10.88.0.1, dns: [10.88.0.1], lease: 1h, interface: s1 }
    - { subnet: 10.66.0.0/24, range: 10.66.0.100-10.66.0.199, router: 10.66.0.1, dns: [10.77.0.1], lease: 1h }
boot:
  bios: undionly.kpxe
  uefi: snponly.efi
  script: http://{server}/boot/{mac}.ipxe
hosts:
  52:54:00:77:00:10: { name: pc01, ip: 10.77.0.10, boot: script }
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lb-dhcpcl-'));
  S = lab.ns('s');
  C0 = lab.ns('c0');
  C1 = lab.ns('c1');
  C2 = lab.ns('c2');
  R = lab.ns('r');
  lab.link(S, 's0', '10.77.0.1/24', C0, 'c0', '');
  lab.link(S, 's1', '10.88.0.1/24', C1, 'c1', '');
  lab.link(S, 's2', '10.99.0.1/24', R, 'r-up', '10.99.0.2/24');
  lab.link(R, 'r-dn', '10.66.0.1/24', C2, 'c2', '');
  lab.exec(S, 'ip route add 10.66.0.0/24 via 10.99.0.2');
  lab.exec(R, 'sysctl -qw net.ipv4.ip_forward=1');
  // The crafted client sends to 255.255.255.255 and needs a route for it.
  lab.exec(C0, 'ip route add default dev c0');
  server = await startServer(lab, S, dir, YAML.replace('STATE', dir));
}, 60_000);

afterAll(async () => {
  await server?.stop().catch(() => undefined);
  lab.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function setMac(ns: string, ifname: string, mac: string) {
  lab.exec(ns, `ip link set ${ifname} down; ip link set ${ifname} address ${mac}; ip link set ${ifname} up; ip addr flush dev ${ifname}`);
}

function fields(line: string): Record<string, string> {
  return Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string]));
}

describe('real clients', () => {
  it('udhcpc gets a pool address with router and mask', () => {
    setMac(C0, 'c0', '52:54:00:aa:00:01');
    const out = join(dir, 'udhcpc.out');
    clientScript(join(dir, 'script.sh'), out);
    lab.exec(C0, `timeout 20 busybox udhcpc -i c0 -n -q -f -t 5 -T 2 -s ${join(dir, 'script.sh')}`, { timeout: 30_000 });
    const bound = readFileSync(out, 'utf8').split('\n').map(fields).find((f) => f.arg === 'bound')!;
    expect(bound.ip).toMatch(/^10\.77\.0\.1\d\d$/);
    expect(bound.router).toBe('10.77.0.1');
    expect(bound.subnet).toBe('255.255.255.0');
  });

  it('dhclient gets a pool address', () => {
    setMac(C0, 'c0', '52:54:00:aa:00:02');
    const lf = join(dir, 'dhclient.leases');
    lab.exec(C0, `timeout 25 dhclient -4 -1 -v -sf /bin/true -lf ${lf} -pf ${join(dir, 'dhclient.pid')} c0; dhclient -x -pf ${join(dir, 'dhclient.pid')} c0 2>/dev/null; true`, { timeout: 40_000 });
    const lease = readFileSync(lf, 'utf8');
    expect(lease).toMatch(/fixed-address 10\.77\.0\.1\d\d;/);
    expect(lease).toMatch(/option routers 10\.77\.0\.1;/);
    expect(lease).toMatch(/option dhcp-server-identifier 10\.77\.0\.1;/);
  });

  it('dhcpcd gets a pool address', () => {
    setMac(C0, 'c0', '52:54:00:aa:00:03');
    const out = join(dir, 'dhcpcd.out');
    clientScript(join(dir, 'script.sh'), out);
    // Private /run and /var/lib for dhcpcd: its pid files and saved leases are global otherwise.
    lab.exec(
      C0,
      `unshare -m sh -c 'mount -t tmpfs none /run/dhcpcd 2>/dev/null || mkdir -p /run/dhcpcd; mount -t tmpfs none /var/lib/dhcpcd; ` +
        `timeout 25 dhcpcd -4 -1 -B -A -t 15 -f /dev/null -c ${join(dir, 'script.sh')} c0; true'`,
      { timeout: 40_000 },
    );
    const bound = readFileSync(out, 'utf8').split('\n').map(fields).find((f) => f.reason === 'BOUND')!;
    expect(bound.new_ip_address).toMatch(/^10\.77\.0\.1\d\d$/);
    expect(bound.new_routers).toBe('10.77.0.1');
  });

  it('a static host gets its fixed address and hostname (udhcpc)', () => {
    setMac(C0, 'c0', '52:54:00:77:00:10');
    const out = join(dir, 'static.out');
    clientScript(join(dir, 'script.sh'), out);
    lab.exec(C0, `timeout 20 busybox udhcpc -i c0 -n -q -f -t 5 -T 2 -O hostname -s ${join(dir, 'script.sh')}`, { timeout: 30_000 });
    const bound = readFileSync(out, 'utf8').split('\n').map(fields).find((f) => f.arg === 'bound')!;
    expect(bound.ip).toBe('10.77.0.10');
    expect(bound.hostname).toBe('pc01');
  });

  it('a client on the second interface gets an address from the second subnet', () => {
    const out = join(dir, 'second.out');
    clientScript(join(dir, 'script.sh'), out);
    lab.exec(C1, `timeout 20 busybox udhcpc -i c1 -n -q -f -t 5 -T 2 -s ${join(dir, 'script.sh')}`, { timeout: 30_000 });
    const bound = readFileSync(out, 'utf8').split('\n').map(fields).find((f) => f.arg === 'bound')!;
    expect(bound.ip).toMatch(/^10\.88\.0\.1\d\d$/);
    expect(bound.router).toBe('10.88.0.1');
  });

  /** udhcpc on the relayed client once the relay has started; the fields of its `bound` call. */
  async function relayedBound(name: string) {
    await new Promise((r) => setTimeout(r, 1000));
    const out = join(dir, `${name}.out`);
    clientScript(join(dir, `${name}.sh`), out);
    lab.exec(C2, `timeout 25 busybox udhcpc -i c2 -n -q -f -t 6 -T 2 -s ${join(dir, `${name}.sh`)}`, { timeout: 35_000 });
    return readFileSync(out, 'utf8').split('\n').map(fields).find((f) => f.arg === 'bound')!;
  }

  it('a relayed client (ISC dhcrelay with option 82) gets an address from the relay’s subnet', async () => {
    const relay = lab.spawn(R, ['dhcrelay', '-4', '-d', '-a', '-id', 'r-dn', '-iu', 'r-up', '10.99.0.1']);
    try {
      const bound = await relayedBound('relayed');
      expect(bound.ip).toMatch(/^10\.66\.0\.1\d\d$/);
      expect(bound.router).toBe('10.66.0.1');
      const ack = await server.waitFor((l) => l.event === 'dhcp.ack' && typeof l.ip === 'string' && (l.ip as string).startsWith('10.66.0.'));
      expect(ack.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    } finally {
      relay.kill('SIGKILL');
    }
  }, 60_000);

  it('a relay forwarding to a server address that does not face it gets that address as server identifier (IP_PKTINFO)', async () => {
    // dgram could not tell which local address a datagram came to: the one facing the relay was taken.
    lab.exec(S, 'ip addr add 10.55.0.1/32 dev lo');
    lab.exec(R, 'ip route add 10.55.0.1/32 via 10.99.0.1');
    const relay = lab.spawn(R, ['dhcrelay', '-4', '-d', '-id', 'r-dn', '-iu', 'r-up', '10.55.0.1']);
    try {
      const bound = await relayedBound('relayed-sid');
      expect(bound.ip).toMatch(/^10\.66\.0\.1\d\d$/);
      expect(bound.serverid).toBe('10.55.0.1');
    } finally {
      relay.kill('SIGKILL');
    }
  }, 60_000);

  it('PXE-like DISCOVERs get the BIOS/UEFI bootfile, iPXE the script, 175-only the script, 175 + foreign user-class the chain', () => {
    const common = { '94': '010201' };
    const hex = (s: string) => Buffer.from(s).toString('hex');
    const uuid = '00' + '11'.repeat(16);
    const steps = [
      { mac: '52:54:00:bb:00:01', type: 1, options: { ...common, '60': hex('PXEClient:Arch:00000:UNDI:002001'), '93': '0000', '97': uuid } },
      { mac: '52:54:00:bb:00:02', type: 1, options: { ...common, '60': hex('PXEClient:Arch:00007:UNDI:003016'), '93': '0007', '97': uuid } },
      { mac: '52:54:00:bb:00:03', type: 1, options: { ...common, '60': hex('PXEClient:Arch:00000:UNDI:002001'), '93': '0000', '97': uuid, '77': hex('iPXE') } },
      { mac: '52:54:00:bb:00:04', type: 1, options: { ...common, '60': hex('PXEClient:Arch:00000:UNDI:002001'), '93': '0000', '97': uuid, '175': '130101' } },
      { mac: '52:54:00:bb:00:05', type: 1, options: { ...common, '60': hex('PXEClient:Arch:00000:UNDI:002001'), '93': '0000', '97': uuid, '175': '130101', '77': hex('FlexBoot-custom') } },
    ];
    // A kernel UDP socket only receives on an interface with an address; an
    // on-link one keeps the server's dgram socket out of it (the packet socket answers).
    lab.exec(C0, 'ip addr flush dev c0; ip addr add 10.77.0.250/24 dev c0; ip route replace default dev c0');
    const replies = craftedClient(lab, C0, { steps, timeoutMs: 3000 });
    const byStep = (i: number) => replies.find((r) => r.step === i)!;
    expect(byStep(0).file).toBe('undionly.kpxe');
    expect(Buffer.from(byStep(0).options['67'], 'hex').toString()).toBe('undionly.kpxe');
    expect(byStep(0).siaddr).toBe('10.77.0.1');
    expect(Buffer.from(byStep(0).options['60'], 'hex').toString()).toBe('PXEClient');
    expect(byStep(0).options['97']).toBe(uuid);
    expect(byStep(1).file).toBe('snponly.efi');
    expect(byStep(2).file).toBe('http://10.77.0.1/boot/52:54:00:bb:00:03.ipxe');
    expect(byStep(2).options['175']).toBe('b00101');
    expect(byStep(3).file).toBe('http://10.77.0.1/boot/52:54:00:bb:00:04.ipxe');
    expect(byStep(4).file).toBe('undionly.kpxe');
    for (let i = 0; i < 5; i++) expect(byStep(i).yiaddr).toMatch(/^10\.77\.0\.1\d\d$/);
  }, 40_000);

  it('every client event was logged with its MAC', () => {
    const events = server.lines.filter((l) => typeof l.event === 'string' && /^dhcp\.(offer|ack)$/.test(l.event as string));
    expect(events.length).toBeGreaterThan(8);
    for (const e of events) expect(e.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(existsSync(join(dir, 'leases.journal'))).toBe(true);
  });
});
