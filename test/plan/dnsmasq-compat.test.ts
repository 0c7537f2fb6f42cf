/**
 * The plan's answers for what an imported dnsmasq setup needs: slots that
 * answer nothing, iPXE answered like its ROM, PXE menus as pxe-service builds
 * them (RPi, UEFI's one-item case, boot server requests), a proxy subnet
 * beside an authoritative one, and the vendor-option switches.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { BootPlan } from '../../src/plan/index.js';
import { encodePxe43 } from '../../src/dhcp/handlers/pxe.js';
import { decodeSuboptions } from '../../src/codec/dhcp-options.js';

const S = '192.168.0.2';
const PXE = (arch: number) => ({ vendorClass: `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003000`, arch, serverAddress: S });
const IPXE = { userClasses: ['iPXE'], ipxeOptions: true };
const plan = (yaml: string) => new BootPlan(parseConfig(yaml, 'x.yaml'));

describe('slots', () => {
  const p = plan(`
dhcp: { subnets: [{ subnet: 192.168.0.0/24, range: 192.168.0.100-192.168.0.200 }] }
boot: { bios: pxelinux.0, uefi: none, arm64: none, http_boot: none, script: none, pxe_options: false, http_client: false, ipxe_no_pxedhcp: false }
hosts:
  52:54:00:00:00:01: { slots: { uefi: host.efi, script: "http://x/{mac}.ipxe" } }
`);
  it('none answers nothing for that client kind; authoritative offers still lease', () => {
    expect(p.dhcp({ mac: '52:54:00:00:00:09', ...PXE(7) })).toMatchObject({ stage: 'pxe', boot: false, bootfile: undefined });
    expect(p.dhcp({ mac: '52:54:00:00:00:09', ...PXE(11) }).boot).toBe(false);
    const http = p.dhcp({ mac: '52:54:00:00:00:09', arch: 16, vendorClass: 'HTTPClient:Arch:00016', serverAddress: S });
    expect(http.boot).toBe(false);
    expect(http.vendorClass).toBeUndefined();
    expect(p.dhcp({ mac: '52:54:00:00:00:09', ...PXE(0), ...IPXE })).toMatchObject({ stage: 'ipxe', boot: false, ipxeNoPxeDhcp: false });
  });
  it('pxe_options false: the file without 60/43, as dnsmasq without pxe-service', () => {
    const a = p.dhcp({ mac: '52:54:00:00:00:09', ...PXE(0) });
    expect(a).toMatchObject({ boot: true, bootfile: 'pxelinux.0', nextServer: S });
    expect(a.vendorClass).toBeUndefined();
    expect(a.discoveryControl).toBeUndefined();
  });
  it("a host's own slots win over boot:'s", () => {
    expect(p.dhcp({ mac: '52:54:00:00:00:01', ...PXE(7) }).bootfile).toBe('host.efi');
    expect(p.dhcp({ mac: '52:54:00:00:00:01', ...PXE(0), ...IPXE }).bootfile).toBe('http://x/52:54:00:00:00:01.ipxe');
    expect(p.dhcp({ mac: '52:54:00:00:00:01', ...PXE(0) }).bootfile).toBe('pxelinux.0');
  });
  it('detect_ipxe false: iPXE gets its firmware slot, as dnsmasq without iPXE tags', () => {
    const q = plan(`
dhcp: { subnets: [{ subnet: 192.168.0.0/24 }] }
boot: { bios: netboot.xyz.kpxe, uefi: netboot.xyz.efi, detect_ipxe: false }
`);
    expect(q.dhcp({ mac: '52:54:00:00:00:09', ...PXE(7), ...IPXE })).toMatchObject({ stage: 'pxe', bootfile: 'netboot.xyz.efi', ipxeNoPxeDhcp: false });
  });
});

describe('PXE menus (pxe-service)', () => {
  const ltsp = plan(`
dhcp:
  subnets:
    - { subnet: 192.168.67.0/24, range: 192.168.67.20-192.168.67.250 }
    - { subnet: 192.168.0.0/24, proxy: true }
boot:
  bios: ltsp/undionly.kpxe
  uefi: ltsp/snponly.efi
  script: ltsp/ltsp.ipxe
  menu:
    - { text: undionly.kpxe, arch: [0], file: ltsp/undionly.kpxe, type: 32768, ipxe: false, proxy: true }
    - { text: snponly.efi, arch: [7], file: ltsp/snponly.efi, type: 32769, ipxe: false, proxy: true }
    - { text: "Raspberry Pi Boot   ", arch: [0], file: unused.0, type: 32772, macs: ["b8:27:eb:00:00:00/24"] }
`);
  it('proxy BIOS: menu with its boot server, discovery control 3, the prompt boots the only item at once', () => {
    const a = ltsp.dhcp({ mac: '52:54:00:00:00:09', ...PXE(0), proxy: true });
    expect(a.pxe43).toEqual({ control: 3, servers: [[32768, S]], items: [[32768, 'undionly.kpxe']], prompt: { timeout: 0, text: 'PXE' } });
    expect(a).toMatchObject({ boot: true, bootfile: 'ltsp/undionly.kpxe', vendorClass: 'PXEClient', nextServer: undefined });
  });
  it('a Raspberry Pi sees its "Raspberry Pi Boot" entry in both subnets; two items wait for a choice', () => {
    expect(ltsp.dhcp({ mac: 'b8:27:eb:00:00:01', ...PXE(0) }).pxe43?.items).toEqual([[32772, 'Raspberry Pi Boot   ']]);
    const p = ltsp.dhcp({ mac: 'b8:27:eb:00:00:01', ...PXE(0), proxy: true }).pxe43!;
    expect(p.items.map((i) => i[0])).toEqual([32768, 32772]);
    expect(p.prompt).toEqual({ timeout: 255, text: 'PXE' });
  });
  it('the boot server answers a 43.71 request with the item, echoing 71', () => {
    const a = ltsp.dhcp({ mac: '52:54:00:00:00:09', ...PXE(0), proxy: true, bootServer: true, bootItem: 32768 });
    expect(a).toMatchObject({ boot: true, bootfile: 'ltsp/undionly.kpxe', nextServer: S });
    expect(a.pxe43?.bootItem).toBe(32768);
    expect(ltsp.dhcp({ mac: '52:54:00:00:00:09', ...PXE(0), proxy: true, bootServer: true, bootItem: 7 }).boot).toBe(false);
  });
  it('UEFI with one item: no menu; port 67 sends it to the boot server, 4011 gives the file', () => {
    const o = ltsp.dhcp({ mac: '52:54:00:00:00:09', ...PXE(7), proxy: true });
    expect(o).toMatchObject({ boot: true, redirect: true, bootfile: undefined, nextServer: S });
    expect(o.pxe43).toBeUndefined();
    const r = ltsp.dhcp({ mac: '52:54:00:00:00:09', ...PXE(7), proxy: true, bootServer: true });
    expect(r).toMatchObject({ boot: true, bootfile: 'ltsp/snponly.efi', nextServer: S, serverName: S });
  });
  it('UEFI arch 9 (no item for it): the slot file on port 67, no 43 there; 43 control 8 on 4011', () => {
    const o = ltsp.dhcp({ mac: '52:54:00:00:00:09', ...PXE(9), proxy: true });
    expect(o).toMatchObject({ bootfile: 'ltsp/snponly.efi', nextServer: S });
    expect(o.pxe43).toBeUndefined();
    expect(ltsp.dhcp({ mac: '52:54:00:00:00:09', ...PXE(9), proxy: true, bootServer: true }).pxe43?.control).toBe(8);
  });
  it('proxy clients with nothing configured for them get no answer; authoritative ones get 60/43 without a file', () => {
    expect(ltsp.dhcp({ mac: '52:54:00:00:00:09', ...PXE(11), proxy: true }).boot).toBe(false);
    expect(ltsp.dhcp({ mac: '52:54:00:00:00:09', arch: 16, vendorClass: 'HTTPClient:Arch:00016', serverAddress: S, proxy: true }).boot).toBe(true);
    const auth = ltsp.dhcp({ mac: '52:54:00:00:00:09', ...PXE(11) });
    expect(auth).toMatchObject({ boot: true, vendorClass: 'PXEClient', bootfile: undefined });
    expect(auth.pxe43?.control).toBe(8);
  });
  it('the Raspberry Pi case: CSA 0, an entry without a file, no boot server', () => {
    const rpi = plan(`
dhcp: { mode: proxy, subnets: [] }
boot: { bios: none, uefi: none, menu: [{ text: Raspberry Pi Boot, arch: [0], type: 0 }] }
`);
    const a = rpi.dhcp({ mac: 'b8:27:eb:00:00:01', ...PXE(0) });
    expect(a).toMatchObject({ boot: true, bootfile: undefined });
    expect(a.pxe43).toEqual({ control: 3, servers: [], items: [[0, 'Raspberry Pi Boot']], prompt: { timeout: 0, text: 'PXE' } });
    expect(rpi.dhcp({ mac: 'b8:27:eb:00:00:01', ...PXE(0), bootServer: true, bootItem: 0 }).boot).toBe(false);
  });
});

describe('option 43 encoding', () => {
  it('PXE 2.1 §2.4 layout: 6, 8 (type, count, address), 9 (type, length, text), 10 (timeout, text), 71', () => {
    const b = encodePxe43({ control: 3, servers: [[0x8000, '10.0.0.1']], items: [[0x8000, 'Boot']], prompt: { timeout: 5, text: 'Go' }, bootItem: 0x8000 });
    const m = decodeSuboptions(b, 43);
    expect(m.get(6)).toEqual(Buffer.from([3]));
    expect(m.get(8)).toEqual(Buffer.from([0x80, 0, 1, 10, 0, 0, 1]));
    expect(m.get(9)).toEqual(Buffer.from([0x80, 0, 4, ...Buffer.from('Boot')]));
    expect(m.get(10)).toEqual(Buffer.from([5, ...Buffer.from('Go')]));
    expect(m.get(71)).toEqual(Buffer.from([0x80, 0, 0, 0]));
    expect(b[b.length - 1]).toBe(255);
  });
});
