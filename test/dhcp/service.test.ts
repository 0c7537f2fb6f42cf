import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { BootPlan } from '../../src/plan/index.js';
import { LeaseStore, type LeaseRecord } from '../../src/leases/store.js';
import { parseFrames } from '../../src/leases/journal.js';
import { DhcpService, type Ingress } from '../../src/dhcp/service.js';
import { Telemetry } from '../../src/telemetry.js';
import { silent } from '../../src/log.js';
import { decode, encode, macToChaddr, type DhcpMessage } from '../../src/codec/dhcp.js';
import { decodeSuboptions, ip, readIp, readString, str, u8 } from '../../src/codec/dhcp-options.js';
import type { Config } from '../../src/config/types.js';

const YAML = (mode: string) => `
server: 10.77.0.1
interfaces: [lb-x0]
state_dir: /tmp
dhcp:
  mode: ${mode}
  address: 0.0.0.0
  subnets:
    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.101, router: 10.77.0.1, dns: [10.77.0.1], lease: 1h, interface: lb-x0 }
    - { subnet: 10.88.0.0/24, range: 10.88.0.100-10.88.0.150, router: 10.88.0.1, dns: [10.88.0.1], lease: 30m }
boot:
  bios: undionly.kpxe
  uefi: snponly.efi
  script: http://{server}/boot/{mac}.ipxe
iscsi:
  portal: "{server}"
  target: iqn.2010-01.lan.example:{name}
  initiator: iqn.2010-01.lan.example:initiator:{name}
  handoff: dhcp
hosts:
  52:54:00:77:00:10: { name: pc01, ip: 10.77.0.10, boot: iscsi }
  52:54:00:77:00:11: { name: pc02, ip: 10.77.0.100, boot: script }
`;

let dir: string;
let cfg: Config;
let store: LeaseStore;
let svc: DhcpService;
let tel: Telemetry;

async function setup(mode = 'authoritative') {
  cfg = parseConfig(YAML(mode), join(dir, 'lanboot.yaml'));
  tel = new Telemetry();
  store = new LeaseStore({ file: join(dir, 'leases'), subnets: cfg.dhcp!.subnets, reserved: cfg.hosts.filter((h) => h.ip).map((h) => ({ ip: h.ip!, mac: h.mac })) });
  await store.open();
  svc = new DhcpService({ config: cfg.dhcp!, plan: new BootPlan(cfg), leases: store, telemetry: tel, log: silent, server: cfg.server });
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lb-dhcpsvc-'));
  await setup();
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const lan: Ingress = { via: 'packet', iface: 'lb-x0', localAddress: '10.77.0.1', addresses: ['10.77.0.1'], localPort: 67, srcAddress: '0.0.0.0', srcPort: 68, broadcast: true };

let xid = 1;
function msg(mac: string, type: number, options: Array<[number, Buffer]> = [], over: Partial<DhcpMessage> = {}): DhcpMessage {
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: xid++, secs: 0, flags: 0, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: macToChaddr(mac), sname: '', file: '',
    options: new Map<number, Buffer>([[53, u8(type)], ...options]), ...over,
  };
}
const t = (r: { message: DhcpMessage } | null) => r?.message.options.get(53)?.[0];

async function dora(mac: string, extra: Array<[number, Buffer]> = [], ingress = lan, over: Partial<DhcpMessage> = {}) {
  const offer = await svc.handle(msg(mac, 1, extra, over), ingress);
  expect(t(offer)).toBe(2);
  const yi = offer!.message.yiaddr;
  const sid = readIp(offer!.message.options, 54)!;
  const ack = await svc.handle(msg(mac, 3, [[50, ip(yi)], [54, ip(sid)], ...extra], over), ingress);
  return { offer: offer!, ack: ack! };
}

const PXE_BIOS: Array<[number, Buffer]> = [
  [60, str('PXEClient:Arch:00000:UNDI:002001')], [93, Buffer.from([0, 0])], [94, Buffer.from([1, 2, 1])],
  [97, Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 0x42)])],
];
const PXE_UEFI: Array<[number, Buffer]> = [
  [60, str('PXEClient:Arch:00007:UNDI:003016')], [93, Buffer.from([0, 7])], [94, Buffer.from([1, 3, 16])],
  [97, Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 0x43)])],
];

describe('DhcpService authoritative', () => {
  it('DORA: offer, ack, journaled before the ACK is returned; reply fields per RFC 2131', async () => {
    const { offer, ack } = await dora('52:54:00:00:00:01');
    expect(offer.message.yiaddr).toBe('10.77.0.101'); // .100 is pc02's static address
    expect(offer.to).toEqual({ kind: 'link', address: '10.77.0.101', mac: '52:54:00:00:00:01', port: 68 });
    expect(t(ack)).toBe(5);
    expect(ack.message.yiaddr).toBe('10.77.0.101');
    expect(readIp(ack.message.options, 54)).toBe('10.77.0.1');
    expect(readIp(ack.message.options, 3)).toBe('10.77.0.1');
    expect(ack.message.options.get(51)!.readUInt32BE(0)).toBe(3600);
    const recs = parseFrames<LeaseRecord>(readFileSync(join(dir, 'leases'))).records;
    expect(recs).toContainEqual(expect.objectContaining({ t: 'L', ip: '10.77.0.101', mac: '52:54:00:00:00:01' }));
    expect(encode(ack.message).length).toBeGreaterThanOrEqual(300);
  });

  it('broadcast flag → broadcast; ciaddr → unicast; giaddr → relay at port 67, option 82 echoed', async () => {
    const o = await svc.handle(msg('52:54:00:00:00:02', 1, [], { flags: 0x8000 }), lan);
    expect(o!.to.kind).toBe('broadcast');
    const r82 = Buffer.from([1, 4, 0, 0, 0, 7]);
    const relayed = await svc.handle(msg('52:54:00:00:00:03', 1, [[82, r82]], { giaddr: '10.88.0.1', hops: 1 }), { via: 'udp', localAddress: '10.77.0.1', localPort: 67, srcAddress: '10.88.0.1', srcPort: 67 });
    expect(relayed!.to).toEqual({ kind: 'relay', address: '10.88.0.1', port: 67 });
    expect(relayed!.message.yiaddr).toMatch(/^10\.88\.0\./);
    expect(relayed!.message.giaddr).toBe('10.88.0.1');
    expect(relayed!.message.options.get(82)).toEqual(r82);
    expect([...relayed!.message.options.keys()].at(-1)).toBe(82);
  });

  it('subnet by ingress interface; second subnet by an interface address', async () => {
    const o2 = await svc.handle(msg('52:54:00:00:00:04', 1), { ...lan, iface: 'lb-x1', localAddress: '10.88.0.1', addresses: ['10.88.0.1'] });
    expect(o2!.message.yiaddr).toMatch(/^10\.88\.0\.1\d\d$/);
    expect(readIp(o2!.message.options, 54)).toBe('10.88.0.1');
    const none = await svc.handle(msg('52:54:00:00:00:05', 1), { ...lan, iface: 'lb-x9', localAddress: '192.168.9.1', addresses: ['192.168.9.1'] });
    expect(none).toBeNull();
    expect(tel.counters.get('lanboot_dhcp_dropped_total{"reason":"no_subnet"}')?.value).toBe(1);
    // Two subnets on one interface: the server-id is the address on the subnet chosen.
    const multi = await svc.handle(msg('52:54:00:00:00:15', 1, [], { giaddr: '10.88.0.254' }), { ...lan, iface: 'lb-x2', localAddress: '10.77.0.1', addresses: ['10.77.0.1', '10.88.0.1'] });
    expect(readIp(multi!.message.options, 54)).toBe('10.88.0.1');
  });

  it('SELECTING for another server: our offer is released silently', async () => {
    const mac = '52:54:00:00:00:06';
    const o = await svc.handle(msg(mac, 1), lan);
    const yi = o!.message.yiaddr;
    expect(await svc.handle(msg(mac, 3, [[50, ip(yi)], [54, ip('10.77.0.250')]]), lan)).toBeNull();
    // The address is free again for someone else.
    const o2 = await svc.handle(msg('52:54:00:00:00:07', 1), lan);
    expect(o2!.message.yiaddr).toBe(yi);
  });

  it('INIT-REBOOT: wrong subnet → NAK (broadcast); own lease → ACK; someone else’s → NAK', async () => {
    const mac = '52:54:00:00:00:08';
    const nak = await svc.handle(msg(mac, 3, [[50, ip('192.168.1.50')]]), lan);
    expect(t(nak)).toBe(6);
    expect(nak!.to.kind).toBe('broadcast');
    expect(nak!.message.yiaddr).toBe('0.0.0.0');
    expect(readString(nak!.message.options, 56)).toMatch(/not on this network/);
    const { ack } = await dora(mac);
    const mine = ack.message.yiaddr;
    const again = await svc.handle(msg(mac, 3, [[50, ip(mine)]]), lan);
    expect(t(again)).toBe(5);
    const other = await svc.handle(msg('52:54:00:00:00:09', 3, [[50, ip(mine)]]), lan);
    expect(t(other)).toBe(6);
  });

  it('RENEWING (unicast, ciaddr) and REBINDING (broadcast): ACK to ciaddr; unknown foreign rebinding is ignored', async () => {
    const mac = '52:54:00:00:00:0a';
    const { ack } = await dora(mac);
    const a = ack.message.yiaddr;
    const renew = await svc.handle(msg(mac, 3, [], { ciaddr: a }), { via: 'udp', localAddress: '10.77.0.1', localPort: 67, srcAddress: a, srcPort: 68 });
    expect(t(renew)).toBe(5);
    expect(renew!.to).toEqual({ kind: 'unicast', address: a, port: 68 });
    const rebind = await svc.handle(msg(mac, 3, [], { ciaddr: a }), { ...lan, srcAddress: a });
    expect(t(rebind)).toBe(5);
    expect(await svc.handle(msg(mac, 3, [], { ciaddr: '172.16.0.5' }), { ...lan, srcAddress: '172.16.0.5' })).toBeNull();
  });

  it('DECLINE quarantines; RELEASE frees; INFORM answers options without an address', async () => {
    const mac = '52:54:00:00:00:0b';
    const { ack } = await dora(mac);
    const a = ack.message.yiaddr;
    expect(await svc.handle(msg(mac, 4, [[50, ip(a)], [54, ip('10.77.0.1')]]), lan)).toBeNull();
    const o = await svc.handle(msg(mac, 1), lan);
    expect(o).toBeNull(); // .100 reserved, .101 quarantined: pool exhausted
    expect(tel.counters.get('lanboot_dhcp_dropped_total{"reason":"pool_exhausted"}')?.value).toBe(1);

    await store.close();
    rmSync(join(dir, 'leases'));
    await setup();
    const mac2 = '52:54:00:00:00:0c';
    const d = await dora(mac2);
    const a2 = d.ack.message.yiaddr;
    expect(await svc.handle(msg(mac2, 7, [[54, ip('10.77.0.1')]], { ciaddr: a2 }), lan)).toBeNull();
    expect(store.leaseAt(a2)).toBeUndefined();

    const inf = await svc.handle(msg('52:54:00:00:00:0d', 8, [], { ciaddr: '10.77.0.50' }), { ...lan, srcAddress: '10.77.0.50' });
    expect(t(inf)).toBe(5);
    expect(inf!.message.yiaddr).toBe('0.0.0.0');
    expect(inf!.message.ciaddr).toBe('10.77.0.50');
    expect(inf!.message.options.has(51)).toBe(false);
    expect(inf!.to).toEqual({ kind: 'unicast', address: '10.77.0.50', port: 68 });
  });

  it('INFORM is answered only for a ciaddr on the ingress subnet, or when relayed (RFC 2131 §4.3.5)', async () => {
    const inform = (ciaddr: string, extra: Partial<{ giaddr: string }> = {}) => msg('52:54:00:00:00:0e', 8, [], { ciaddr, ...extra });
    const dropped = () => tel.counters.get('lanboot_dhcp_dropped_total{"reason":"inform_not_on_link"}')?.value ?? 0;
    const before = dropped();
    expect(await svc.handle(inform('192.0.2.7'), { ...lan, srcAddress: '192.0.2.7', broadcast: false })).toBeNull();
    expect(await svc.handle(inform('0.0.0.0'), lan)).toBeNull();
    // A wildcard UDP socket: on-link only when our receiving address is on that subnet.
    const udp: Ingress = { via: 'udp', localPort: 67, srcAddress: '10.77.0.60', srcPort: 68 };
    expect(await svc.handle(inform('10.77.0.60'), udp)).toBeNull();
    expect(dropped()).toBe(before + 3);
    const onLink = await svc.handle(inform('10.77.0.60'), { ...udp, localAddress: '10.77.0.1' });
    expect(onLink!.to).toEqual({ kind: 'unicast', address: '10.77.0.60', port: 68 });
    const relayed = await svc.handle(inform('10.77.0.61', { giaddr: '10.77.0.254' }), { ...udp, srcAddress: '10.77.0.254', srcPort: 67 });
    expect(relayed!.to).toMatchObject({ kind: 'relay', address: '10.77.0.254' });
  });

  it('DECLINE from a stranger quarantines nothing; 54 is required and the address must be the client\'s, on its subnet', async () => {
    const stranger = '52:54:00:00:00:66';
    const sid: [number, Buffer] = [54, ip('10.77.0.1')];
    for (const a of ['10.77.0.10', '10.77.0.100', '10.77.0.101']) {
      expect(await svc.handle(msg(stranger, 4, [[50, ip(a)], sid]), lan)).toBeNull();
    }
    expect(tel.counters.get('lanboot_dhcp_dropped_total{"reason":"decline_not_client_address"}')?.value).toBe(3);
    expect(store.all().some((l) => l.state === 'declined')).toBe(false);
    // pc01 still gets its fixed address, a new client still gets the pool address.
    expect((await svc.handle(msg('52:54:00:77:00:10', 1), lan))!.message.yiaddr).toBe('10.77.0.10');
    const { ack } = await dora('52:54:00:00:00:67');
    expect(ack.message.yiaddr).toBe('10.77.0.101');
    // The holder itself: no option 54 -> dropped (RFC 2131 table 5); another subnet's address -> dropped.
    const holder = '52:54:00:00:00:67';
    expect(await svc.handle(msg(holder, 4, [[50, ip('10.77.0.101')]]), lan)).toBeNull();
    expect(tel.counters.get('lanboot_dhcp_dropped_total{"reason":"decline_without_server_id"}')?.value).toBe(1);
    expect(await svc.handle(msg(holder, 4, [[50, ip('10.88.0.120')], sid]), lan)).toBeNull();
    expect(tel.counters.get('lanboot_dhcp_dropped_total{"reason":"decline_foreign_subnet"}')?.value).toBe(1);
    expect(store.leaseAt('10.77.0.101')?.state).toBe('bound');
    // With 54 and its own address: quarantined.
    expect(await svc.handle(msg(holder, 4, [[50, ip('10.77.0.101')], sid]), lan)).toBeNull();
    expect(store.all().find((l) => l.ip === '10.77.0.101')?.state).toBe('declined');
    expect(tel.counters.get('lanboot_dhcp_conflicts_total{"source":"decline"}')?.value).toBe(1);
  });

  it('reload moves the range and adds a subnet: leases are kept, an address outside the new range is NAKed at renewal, not offered again', async () => {
    const mac = '52:54:00:00:00:71';
    const first = await dora(mac);
    expect(t(first.ack)).toBe(5);
    const a = first.ack.message.yiaddr;
    expect(a).toBe('10.77.0.101'); // .100 is pc02's fixed address
    const renewIngress: Ingress = { via: 'udp', localAddress: '10.77.0.1', localPort: 67, srcAddress: a, srcPort: 68 };
    const moved = parseConfig(
      YAML('authoritative')
        .replace('10.77.0.100-10.77.0.101', '10.77.0.120-10.77.0.129')
        .replace('  - { subnet: 10.88.0.0/24', '  - { subnet: 10.99.0.0/24, range: 10.99.0.10-10.99.0.20, router: 10.99.0.1, lease: 1h }\n    - { subnet: 10.88.0.0/24'),
      join(dir, 'lanboot.yaml'),
    );
    svc.setConfig(moved.dhcp!, moved.server);
    // Nothing lost: the old lease is still bound, on disk and in the store, until it expires.
    expect(store.leaseAt(a)?.mac).toBe(mac);
    const renew = await svc.handle(msg(mac, 3, [], { ciaddr: a }), renewIngress);
    expect(t(renew)).toBe(6);
    const again = await dora(mac);
    expect(t(again.ack)).toBe(5);
    expect(again.ack.message.yiaddr).toMatch(/^10\.77\.0\.12\d$/);
    // The new subnet is served at once, through a relay on it.
    const relayed = await dora('52:54:00:00:00:72', [], { via: 'udp', localAddress: '10.77.0.1', localPort: 67, srcAddress: '10.99.0.1', srcPort: 67 }, { giaddr: '10.99.0.1', hops: 1 });
    expect(t(relayed.ack)).toBe(5);
    expect(relayed.ack.message.yiaddr).toMatch(/^10\.99\.0\.(1\d|20)$/);
  });

  it('static host gets its fixed address, with hostname, initiator and root-path at the iPXE stage', async () => {
    const { ack } = await dora('52:54:00:77:00:10', [[77, str('iPXE')], [175, Buffer.from([0x11, 1, 1])]]);
    expect(ack.message.yiaddr).toBe('10.77.0.10');
    expect(readString(ack.message.options, 12)).toBe('pc01');
    expect(readString(ack.message.options, 203)).toBe('iqn.2010-01.lan.example:initiator:pc01');
    expect(readString(ack.message.options, 17)).toBe('iscsi:10.77.0.1::3260:1:iqn.2010-01.lan.example:pc01');
    expect(ack.message.file).toBe('');
    expect(ack.message.options.get(175)).toEqual(Buffer.from([176, 1, 1]));
  });

  it('PXE BIOS / UEFI bootfiles; iPXE user-class → script; 175 alone → script; 175 + unmatched user-class → chain', async () => {
    const bios = (await dora('52:54:00:00:01:01', PXE_BIOS)).ack.message;
    expect(bios.file).toBe('undionly.kpxe');
    expect(readString(bios.options, 67)).toBe('undionly.kpxe');
    expect(bios.siaddr).toBe('10.77.0.1');
    expect(readString(bios.options, 60)).toBe('PXEClient');
    expect(decodeSuboptions(bios.options.get(43)!, 43).get(6)).toEqual(Buffer.from([8]));

    await store.close();
    rmSync(join(dir, 'leases'));
    await setup();
    const uefi = (await svc.handle(msg('52:54:00:00:01:02', 1, PXE_UEFI), lan))!.message;
    expect(uefi.file).toBe('snponly.efi');
    const ipxe = (await svc.handle(msg('52:54:00:00:01:03', 1, [...PXE_BIOS, [77, str('iPXE')]]), lan));
    // pool has one dynamic address, held by the UEFI offer: exhausted → use a relayed subnet instead
    expect(ipxe).toBeNull();
    const relay: Ingress = { via: 'udp', localAddress: '10.77.0.1', localPort: 67, srcAddress: '10.88.0.1', srcPort: 67 };
    const r = { giaddr: '10.88.0.1' };
    const ip1 = (await svc.handle(msg('52:54:00:00:01:03', 1, [...PXE_BIOS, [77, str('iPXE')]], r), relay))!.message;
    expect(ip1.file).toBe('http://10.77.0.1/boot/52:54:00:00:01:03.ipxe');
    expect(ip1.options.get(175)).toEqual(Buffer.from([176, 1, 1]));
    const ip2 = (await svc.handle(msg('52:54:00:00:01:04', 1, [...PXE_BIOS, [175, Buffer.from([0x13, 1, 1])]], r), relay))!.message;
    expect(ip2.file).toBe('http://10.77.0.1/boot/52:54:00:00:01:04.ipxe');
    const ip3 = (await svc.handle(msg('52:54:00:00:01:05', 1, [...PXE_BIOS, [175, Buffer.from([0x13, 1, 1])], [77, str('\x07Foo')]], r), relay))!.message;
    expect(ip3.file).toBe('undionly.kpxe');
    const rfc3004 = (await svc.handle(msg('52:54:00:00:01:06', 1, [...PXE_BIOS, [77, Buffer.from([4, 0x69, 0x50, 0x58, 0x45])]], r), relay))!.message;
    expect(rfc3004.file).toBe('http://10.77.0.1/boot/52:54:00:00:01:06.ipxe');
  });

  it('hands the client\'s option 55 to the encoder with the reply (RFC 2132 §9.8 order)', async () => {
    const r = await svc.handle(msg('52:54:00:00:00:71', 1, [[55, Buffer.from([6, 3, 1, 51, 54])]]), lan);
    expect(r!.requested).toEqual([6, 3, 1, 51, 54]);
    const buf = encode(r!.message, { maxLength: r!.maxLength, requested: r!.requested });
    const codes: number[] = [];
    for (let i = 240; buf[i] !== 255; i += 2 + buf[i + 1]!) codes.push(buf[i]!);
    expect(codes.slice(0, 6)).toEqual([53, 54, 6, 3, 1, 51]);
  });

  it('sheds load while lease writes wait for the disk: DISCOVERs from half the limit, REQUESTs at it', async () => {
    await store.close();
    // Writes wait a minute for company: they stay pending until drained.
    store = new LeaseStore({ file: join(dir, 'leases-slow'), subnets: cfg.dhcp!.subnets, commitDelayMs: 60_000 });
    await store.open();
    svc = new DhcpService({ config: cfg.dhcp!, plan: new BootPlan(cfg), leases: store, telemetry: tel, log: silent, server: cfg.server, maxPendingWrites: 4 });
    const relay: Ingress = { via: 'udp', localAddress: '10.77.0.1', localPort: 67, srcAddress: '10.88.0.1', srcPort: 67 };
    const r = { giaddr: '10.88.0.1' };
    const macs = ['52:54:00:00:05:01', '52:54:00:00:05:02', '52:54:00:00:05:03', '52:54:00:00:05:04', '52:54:00:00:05:05'];
    const offers: string[] = [];
    for (const m of macs) offers.push((await svc.handle(msg(m, 1, [], r), relay))!.message.yiaddr);
    const req = (i: number) => svc.handle(msg(macs[i]!, 3, [[50, ip(offers[i]!)], [54, ip('10.77.0.1')]], r), relay);
    const acks = [req(0), req(1)];
    const overload = () => tel.counters.get('lanboot_dhcp_dropped_total{"reason":"overload"}')?.value ?? 0;
    expect(await svc.handle(msg('52:54:00:00:05:06', 1, [], r), relay)).toBeNull(); // 2 pending: no new exchange
    expect(overload()).toBe(1);
    acks.push(req(2), req(3)); // REQUESTs still complete theirs
    expect(await req(4)).toBeNull(); // 4 pending: the limit
    expect(overload()).toBe(2);
    await store.journal.drain();
    for (const a of await Promise.all(acks)) expect(t(a)).toBe(5);
    expect(t(await svc.handle(msg('52:54:00:00:05:06', 1, [], r), relay))).toBe(2);
  });

  it('malformed input is dropped and counted, never thrown', async () => {
    expect(await svc.handleBuffer(Buffer.from('garbage'), lan)).toBeNull();
    expect(tel.counters.get('lanboot_dhcp_dropped_total{"reason":"malformed_short"}')?.value).toBe(1);
    const bad = msg('52:54:00:00:00:0e', 1, [[93, Buffer.from([1])], [50, Buffer.from([1, 2])]]);
    const r = await svc.handleBuffer(encode(bad), lan);
    expect(t(r)).toBe(2); // bad 93 and 50 are ignored, the client still gets an offer
  });
});

describe('DhcpService.factsFor (per-client facts for TFTP quirks)', () => {
  const QUIRKS = '\ntftp:\n  root: /tmp\n  quirks:\n    - { arch: [7, 9], blksize_max: 1024, refuse_options: [tsize] }\n';
  let clock = 1_000_000;
  const service = (c: Config, extra: Partial<ConstructorParameters<typeof DhcpService>[0]> = {}) =>
    new DhcpService({ config: c.dhcp!, plan: new BootPlan(c), leases: c.dhcp!.mode === 'authoritative' ? store : undefined, telemetry: tel, log: silent, server: c.server, now: () => clock, ...extra });

  it('remembers the facts of the client at yiaddr until its lease ends, forgets them on RELEASE, bounded LRU', async () => {
    const c = parseConfig(YAML('authoritative') + QUIRKS, join(dir, 'q.yaml'));
    const s = service(c, { factsCapacity: 2 });
    const mac = '52:54:00:00:03:01';
    const relay: Ingress = { via: 'udp', localAddress: '10.77.0.1', localPort: 67, srcAddress: '10.88.0.1', srcPort: 67 };
    const r = { giaddr: '10.88.0.1' };
    const offer = (await s.handle(msg(mac, 1, PXE_UEFI, r), relay))!.message;
    const yi = offer.yiaddr;
    expect(s.factsFor(yi)).toMatchObject({ mac, arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016', ip: yi });
    const ack = (await s.handle(msg(mac, 3, [[50, ip(yi)], [54, ip('10.77.0.1')], ...PXE_UEFI], r), relay))!.message;
    expect(t({ message: ack })).toBe(5);
    // Through the plan, as the app's TFTP policy hook asks: the arch quirk applies.
    const plan = new BootPlan(c);
    expect(plan.tftpPolicy({ ...s.factsFor(yi), mac: s.factsFor(yi)?.mac })).toEqual({ blksizeMax: 1024, refuseOptions: ['tsize'] });
    expect(plan.tftpPolicy({ mac })).toEqual({ refuseOptions: [] }); // what the hook saw before: MAC only
    // Lease is 30 min on this subnet.
    clock += 29 * 60_000;
    expect(s.factsFor(yi)?.arch).toBe(7);
    clock += 2 * 60_000;
    expect(s.factsFor(yi)).toBeUndefined();
    // RELEASE forgets.
    const a2 = (await s.handle(msg(mac, 1, PXE_BIOS, r), relay))!.message.yiaddr;
    await s.handle(msg(mac, 3, [[50, ip(a2)], [54, ip('10.77.0.1')], ...PXE_BIOS], r), relay);
    expect(s.factsFor(a2)?.arch).toBe(0);
    await s.handle(msg(mac, 7, [[54, ip('10.77.0.1')]], { ...r, ciaddr: a2 }), relay);
    expect(s.factsFor(a2)).toBeUndefined();
    // Capacity 2: the least recently used address goes first.
    const ips: string[] = [];
    for (const m of ['52:54:00:00:03:02', '52:54:00:00:03:03']) ips.push((await s.handle(msg(m, 1, PXE_BIOS, r), relay))!.message.yiaddr);
    expect(s.factsFor(ips[0]!)?.mac).toBe('52:54:00:00:03:02'); // touch: now most recent
    const third = (await s.handle(msg('52:54:00:00:03:04', 1, PXE_BIOS, r), relay))!.message.yiaddr;
    expect(s.factsFor(ips[1]!)).toBeUndefined();
    expect(s.factsFor(ips[0]!)?.mac).toBe('52:54:00:00:03:02');
    expect(s.factsFor(third)?.mac).toBe('52:54:00:00:03:04');
  });

  it('proxy mode (no leases): the address of the 4011 REQUEST carries the facts, so arch quirks apply', async () => {
    const c = parseConfig(YAML('proxy') + QUIRKS, join(dir, 'q.yaml'));
    const s = service(c);
    const mac = '52:54:00:00:03:10';
    const r = await s.handle(msg(mac, 3, PXE_UEFI), { via: 'udp', localAddress: '10.77.0.1', localPort: 4011, srcAddress: '10.77.0.150', srcPort: 4011 });
    expect(t(r)).toBe(5);
    expect(s.factsFor('10.77.0.150')).toMatchObject({ mac, arch: 7, ip: '10.77.0.150' });
    expect(new BootPlan(c).tftpPolicy({ ...s.factsFor('10.77.0.150') }).blksizeMax).toBe(1024);
    clock += 2 * 3600_000;
    expect(s.factsFor('10.77.0.150')).toBeUndefined();
  });
});

describe('DhcpService proxy mode', () => {
  beforeEach(async () => {
    await store.close();
    await setup('proxy');
  });

  it('answers PXE DISCOVER on 67 with boot info and no address; ignores non-PXE', async () => {
    const o = await svc.handle(msg('52:54:00:00:02:01', 1, PXE_BIOS), lan);
    expect(t(o)).toBe(2);
    expect(o!.message.yiaddr).toBe('0.0.0.0');
    expect(o!.message.file).toBe('undionly.kpxe');
    expect(o!.to.kind).toBe('broadcast');
    expect(o!.message.options.has(51)).toBe(false);
    expect(o!.message.options.has(1)).toBe(false);
    expect(decodeSuboptions(o!.message.options.get(43)!, 43).get(6)).toEqual(Buffer.from([8]));
    expect(await svc.handle(msg('52:54:00:00:02:02', 1), lan)).toBeNull();
    // UEFI HTTP boot (arch 16) takes proxy offers too: URL bootfile, HTTPClient echoed.
    const http = await svc.handle(msg('52:54:00:00:02:04', 1, [[60, str('HTTPClient:Arch:00016:UNDI:003001')], [93, Buffer.from([0, 16])]]), lan);
    expect(readString(http!.message.options, 60)).toBe('HTTPClient');
    expect(http!.message.file).toMatch(/^http:\/\//);
    // REQUEST to the real server on 67: not ours
    expect(await svc.handle(msg('52:54:00:00:02:01', 3, [...PXE_BIOS, [54, ip('10.77.0.254')], [50, ip('10.77.0.120')]]), lan)).toBeNull();
  });

  it('who gets a proxy answer is the plan\'s call: the service obeys answer.boot', async () => {
    const plain = msg('52:54:00:00:02:05', 1, [[60, str('MSFT 5.0')]]);
    expect(await svc.handle(plain, lan)).toBeNull();
    expect(tel.counters.get('lanboot_dhcp_dropped_total{"reason":"proxy_not_pxe"}')?.value).toBe(1);
    // A plan that boots everyone: the service answers a client without PXEClient too.
    const real = new BootPlan(cfg);
    const everyone = { dhcp: (f: Parameters<BootPlan['dhcp']>[0]) => ({ ...real.dhcp({ ...f, vendorClass: 'PXEClient', arch: 0 }) }) };
    const s2 = new DhcpService({ config: cfg.dhcp!, plan: everyone, telemetry: tel, log: silent, server: cfg.server });
    const o = await s2.handle(msg('52:54:00:00:02:05', 1, [[60, str('MSFT 5.0')]]), lan);
    expect(t(o)).toBe(2);
    expect(o!.message.file).toBe('undionly.kpxe');
  });

  it('REQUEST on 4011 → ACK unicast to the client’s source', async () => {
    const r = await svc.handle(msg('52:54:00:00:02:03', 3, [...PXE_UEFI], { ciaddr: '10.77.0.120' }), { via: 'udp', localAddress: '10.77.0.1', localPort: 4011, srcAddress: '10.77.0.120', srcPort: 68 });
    expect(t(r)).toBe(5);
    expect(r!.message.file).toBe('snponly.efi');
    expect(r!.to).toEqual({ kind: 'unicast', address: '10.77.0.120', port: 68 });
    expect(decode(encode(r!.message)).yiaddr).toBe('0.0.0.0');
  });
});

describe('a broadcast that cannot be answered is warned about, not logged at debug (issue 10, item 1)', () => {
  it('names the interface and what it lacks; relayed and unicast requests stay at debug', async () => {
    const lines: Array<Record<string, any>> = [];
    const log = pino({ level: 'info', base: undefined }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const s = new DhcpService({ config: cfg.dhcp!, plan: new BootPlan(cfg), leases: store, telemetry: tel, log });
    const warned = () => lines.filter((l) => l.event === 'dhcp.unanswered');
    expect(await s.handle(msg('52:54:00:00:0a:01', 1), { ...lan, iface: 'lb-x9', localAddress: '192.168.9.1', addresses: ['192.168.9.1'] })).toBeNull();
    expect(warned().at(-1)).toMatchObject({ level: 40, reason: 'no_subnet', iface: 'lb-x9', mac: '52:54:00:00:0a:01' });
    expect(warned().at(-1)!.msg).toMatch(/DHCPDISCOVER from 52:54:00:00:0a:01 on lb-x9 cannot be answered: no dhcp.subnets entry holds an address of lb-x9 \(192\.168\.9\.1\)/);
    expect(await s.handle(msg('52:54:00:00:0a:02', 1), { ...lan, iface: 'lb-x8', localAddress: undefined, addresses: [] })).toBeNull();
    expect(warned().at(-1)!.msg).toMatch(/lb-x8 has no IPv4 address/);
    // Several subnets and no interface to tell them apart (interfaces: []).
    expect(await s.handle(msg('52:54:00:00:0a:03', 1), { via: 'udp', localPort: 67, srcAddress: '0.0.0.0', srcPort: 68 })).toBeNull();
    expect(warned().at(-1)!.msg).toMatch(/interfaces: \[\]/);
    const n = warned().length;
    // Not broadcasts from the LAN: a relay for a subnet we lack, a unicast renewal.
    await s.handle(msg('52:54:00:00:0a:04', 1, [], { giaddr: '172.16.0.1' }), { via: 'udp', localAddress: '10.77.0.1', localPort: 67, srcAddress: '172.16.0.1', srcPort: 67 });
    await s.handle(msg('52:54:00:00:0a:05', 3, [], { ciaddr: '192.168.9.50' }), { ...lan, iface: 'lb-x9', localAddress: '192.168.9.1', addresses: ['192.168.9.1'], broadcast: false, srcAddress: '192.168.9.50' });
    expect(warned()).toHaveLength(n);
  });
});

describe('ARP probe before the first offer (issue 10, item 4)', () => {
  it('on by default; DISCOVERs from one client while its probe runs wait for it and get the same address, probed once', async () => {
    expect(cfg.dhcp!.arp_probe).toBe(true);
    const probed: string[] = [];
    const s = new DhcpService({
      config: cfg.dhcp!, plan: new BootPlan(cfg), leases: store, telemetry: tel, log: silent, server: cfg.server,
      probe: async (ip) => {
        probed.push(ip);
        await new Promise((r) => setTimeout(r, 20));
        return false;
      },
    });
    const mac = '52:54:00:00:0b:01';
    // Three client kinds of one machine at once (as the differential probe sends them), different xids.
    const replies = await Promise.all([msg(mac, 1, PXE_BIOS), msg(mac, 1, PXE_UEFI), msg(mac, 1)].map((m) => s.handle(m, lan)));
    expect(replies.map(t)).toEqual([2, 2, 2]);
    expect(new Set(replies.map((r) => r!.message.yiaddr)).size).toBe(1);
    expect(probed).toHaveLength(1);
    // A fresh address for another client is probed again.
    expect(t(await s.handle(msg('52:54:00:00:0b:02', 1), { ...lan, iface: 'lb-x1', localAddress: '10.88.0.1', addresses: ['10.88.0.1'] }))).toBe(2);
    expect(probed).toHaveLength(2);
  });
});

describe('warnings a packet can trigger (issue 9, item 17b)', () => {
  it('a host answering every ARP probe makes ten dhcp.conflict lines, then one that counts the rest; the counter counts all', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const c = parseConfig(YAML('authoritative').replace('  address: 0.0.0.0', '  address: 0.0.0.0\n  arp_probe: true'), join(dir, 'p.yaml'));
      const lines: Array<Record<string, any>> = [];
      const log = pino({ level: 'info', base: undefined }, { write: (l: string) => void lines.push(JSON.parse(l)) });
      const s = new DhcpService({ config: c.dhcp!, plan: new BootPlan(c), leases: store, telemetry: tel, log, server: c.server, probe: async () => true });
      const relay: Ingress = { via: 'udp', localAddress: '10.77.0.1', localPort: 67, srcAddress: '10.88.0.1', srcPort: 67 };
      for (let i = 0; i < 30; i++) await s.handle(msg(`52:54:00:00:09:${i.toString(16).padStart(2, '0')}`, 1, [], { giaddr: '10.88.0.1' }), relay);
      const conflicts = tel.counters.get('lanboot_dhcp_conflicts_total{"source":"arp"}')!.value;
      expect(conflicts).toBeGreaterThan(30); // each DISCOVER probes up to three fresh addresses
      expect(lines.filter((l) => l.event === 'dhcp.conflict')).toHaveLength(10);
      vi.advanceTimersByTime(10_000);
      expect(lines.filter((l) => l.event === 'dhcp.conflict').at(-1)).toMatchObject({ level: 40, suppressed: conflicts - 10 });
    } finally {
      vi.useRealTimers();
    }
  });
});
