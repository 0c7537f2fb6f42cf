/**
 * proxyDHCP next to another DHCP server (dnsmasq) on one segment:
 *
 *   C (c0 10.55.0.250) ─┐
 *   D (d0 10.55.0.2)  ──┼── bridge br0 in B
 *   P (p0 10.55.0.3)  ──┘   lanboot, dhcp.mode: proxy
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, startServer, craftedClient, type ServerHandle } from './netns.js';

const lab = new Lab();
let dir: string;
let B: string, C: string, D: string, P: string;
let server: ServerHandle;

const YAML = `
interfaces: [p0]
state_dir: STATE
dhcp:
  mode: proxy
  address: 0.0.0.0
  subnets:
    - { subnet: 10.55.0.0/24, lease: 1h }
boot:
  bios: undionly.kpxe
  uefi: snponly.efi
  script: http://{server}/boot/{mac}.ipxe
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lb-dhcppx-'));
  B = lab.ns('b');
  C = lab.ns('c');
  D = lab.ns('d');
  P = lab.ns('p');
  lab.exec(B, 'ip link add br0 type bridge && ip link set br0 up');
  lab.link(B, 'bc', '', C, 'c0', '10.55.0.250/24');
  lab.link(B, 'bd', '', D, 'd0', '10.55.0.2/24');
  lab.link(B, 'bp', '', P, 'p0', '10.55.0.3/24');
  for (const i of ['bc', 'bd', 'bp']) lab.exec(B, `ip link set ${i} master br0`);
  lab.exec(C, 'ip route add default dev c0');
  lab.spawn(D, [
    'dnsmasq', '--no-daemon', '--port=0', '--interface=d0', '--bind-interfaces', '--dhcp-authoritative',
    '--dhcp-range=10.55.0.100,10.55.0.150,1h', `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`,
  ]);
  server = await startServer(lab, P, dir, YAML.replace('STATE', dir));
}, 60_000);

afterAll(async () => {
  await server?.stop().catch(() => undefined);
  lab.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const hex = (s: string) => Buffer.from(s).toString('hex');
const text = (h?: string) => (h === undefined ? undefined : Buffer.from(h, 'hex').toString());

describe('proxyDHCP next to dnsmasq', () => {
  it('PXE DISCOVER: an address from dnsmasq, boot info (no address) from lanboot; REQUEST on 4011 → ACK', () => {
    const pxe = { '60': hex('PXEClient:Arch:00000:UNDI:002001'), '93': '0000', '94': '010201', '97': '00' + '22'.repeat(16) };
    const replies = craftedClient(lab, C, {
      timeoutMs: 4000,
      steps: [
        { mac: '52:54:00:cc:00:01', type: 1, expect: 1 },
        { mac: '52:54:00:cc:00:02', type: 1, options: pxe, expect: 2 },
        { mac: '52:54:00:cc:00:02', type: 3, options: pxe, flags: 0, ciaddr: '10.55.0.250', to: '10.55.0.3', port: 4011 },
        { mac: '52:54:00:cc:00:03', type: 1, options: { ...pxe, '77': hex('iPXE') }, expect: 2 },
      ],
    });
    // A plain client: dnsmasq only.
    const plain = replies.filter((r) => r.step === 0);
    expect(plain.map((r) => r.from)).toEqual(['10.55.0.2']);

    const offers = replies.filter((r) => r.step === 1);
    const real = offers.find((r) => r.from === '10.55.0.2')!;
    const proxy = offers.find((r) => r.from === '10.55.0.3')!;
    expect(real.yiaddr).toMatch(/^10\.55\.0\.1\d\d$/);
    expect(proxy.yiaddr).toBe('0.0.0.0');
    expect(proxy.file).toBe('undionly.kpxe');
    expect(proxy.siaddr).toBe('10.55.0.3');
    expect(text(proxy.options['60'])).toBe('PXEClient');
    expect(proxy.options['43']).toBe('060108ff');
    expect(proxy.options['54']).toBe(Buffer.from([10, 55, 0, 3]).toString('hex'));
    expect(proxy.options['51']).toBeUndefined();

    const ack = replies.find((r) => r.step === 2)!;
    expect(ack.from).toBe('10.55.0.3');
    expect(ack.fromPort).toBe(4011);
    expect(ack.options['53']).toBe('05');
    expect(ack.yiaddr).toBe('0.0.0.0');
    expect(ack.file).toBe('undionly.kpxe');

    const ipxe = replies.filter((r) => r.step === 3).find((r) => r.from === '10.55.0.3')!;
    expect(ipxe.file).toBe('http://10.55.0.3/boot/52:54:00:cc:00:03.ipxe');
  }, 60_000);
});
