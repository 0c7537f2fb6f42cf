/** Stage 5: what dnsmasq answers each kind of client (rfc2131.c's rules). */
import { describe, expect, it } from 'vitest';
import { parseDnsmasq } from '../../src/config/import/dnsmasq/parse.js';
import { buildModel } from '../../src/config/import/dnsmasq/model.js';
import { answer } from '../../src/config/import/dnsmasq/answers.js';
import { ANY_MAC, kind, type KindId } from '../../src/config/import/dnsmasq/clients.js';

const model = (lines: string[]) => buildModel(parseDnsmasq(lines.join('\n')), []);
const ask = (lines: string[], id: KindId, proxy = false) => {
  const m = model(lines);
  return answer(m, kind(id), ANY_MAC, { range: m.ranges[0], proxy });
};

describe('dhcp-boot and options', () => {
  const conf = [
    'dhcp-range=10.0.0.10,10.0.0.20,255.255.255.0',
    'dhcp-match=set:ipxe,175',
    'dhcp-match=set:efi,option:client-arch,7',
    'dhcp-boot=tag:!ipxe,undionly.kpxe',
    'dhcp-boot=tag:efi,tag:!ipxe,first.efi',
    'dhcp-boot=tag:efi,tag:!ipxe,ipxe.efi',
    'dhcp-boot=http://10.0.0.1/bootstrap.ipxe',
  ];
  it('find_boot(): a tagged line beats an untagged one wherever it sits; the last tagged match wins', () => {
    expect(ask(conf, 'bios').file).toBe('undionly.kpxe');
    expect(ask(conf, 'uefi').file).toBe('ipxe.efi');
    expect(ask(conf, 'ipxe-uefi').file).toBe('http://10.0.0.1/bootstrap.ipxe');
    // A BIOS file for ARM64 too: tag:!ipxe holds for it.
    expect(ask(conf, 'arm64').file).toBe('undionly.kpxe');
  });
  it('without dhcp-boot, option 67 by tag; options go out when asked for or forced', () => {
    const o = ['dhcp-range=10.0.0.10,10.0.0.20,255.255.255.0', 'dhcp-match=set:bios,option:client-arch,0',
      'dhcp-option=tag:bios,option:bootfile-name,ipxe.pxe', 'dhcp-option-force=209,pxelinux.cfg', 'dhcp-option=42,10.0.0.1', 'dhcp-option=tag:bios,42,10.0.0.2'];
    const a = ask(o, 'bios');
    expect(a.file).toBe('ipxe.pxe');
    expect([...a.options.keys()].sort()).toEqual([209, 67]);
    expect(ask(o, 'plain').options.get(42)?.values).toEqual(['10.0.0.1']);
    expect(ask(o, 'uefi').file).toBeUndefined();
  });
});

describe('PXE rules', () => {
  it('60 echo and menus only with pxe-service or pxe-prompt, for PXEClient with option 93', () => {
    const plain = ['dhcp-range=10.0.0.10,10.0.0.20,255.255.255.0', 'dhcp-boot=pxelinux.0'];
    expect(ask(plain, 'bios')).toMatchObject({ pxe: false, file: 'pxelinux.0' });
    expect(ask(plain, 'bios').vendorClass).toBeUndefined();
    const menu = [...plain, 'pxe-service=x86PC,"Install",pxelinux'];
    expect(ask(menu, 'bios')).toMatchObject({ pxe: true, vendorClass: 'PXEClient', services: [expect.objectContaining({ basename: 'pxelinux' })] });
    expect(ask(menu, 'http').pxe).toBe(false); // HTTPClient is no PXE vendor unless dhcp-pxe-vendor says so
    expect(ask([...menu, 'dhcp-pxe-vendor=PXEClient,HTTPClient'], 'http').pxe).toBe(true);
  });
  it('proxy ranges answer PXE clients only, and only dhcp-boot, never options', () => {
    const p = ['dhcp-range=10.0.0.0,proxy', 'pxe-service=x86PC,"A",a.0', 'dhcp-boot=pxelinux.0', 'dhcp-option-force=209,x'];
    expect(ask(p, 'plain', true).silent).toMatch(/proxy/);
    expect(ask(p, 'bios', true)).toMatchObject({ file: 'pxelinux.0', options: new Map() });
    expect(ask(['dhcp-range=10.0.0.0,proxy', 'dhcp-boot=pxelinux.0'], 'bios', true).silent).toMatch(/pxe-service/);
  });
  it("UEFI with exactly one entry for its arch gets no menu and, on port 67, no file: it asks 4011", () => {
    const p = ['dhcp-range=10.0.0.0,proxy', 'pxe-service=X86-64_EFI,"A",a.efi', 'dhcp-boot=pxelinux.0'];
    const a = ask(p, 'uefi', true);
    expect(a.single?.basename).toBe('a.efi');
    expect(a.file).toBeUndefined();
    expect(a.boot?.file).toBe('pxelinux.0');
    expect(ask(p, 'uefi9', true).single).toBeUndefined(); // X86-64_EFI is arch 7 only
    expect(ask(p, 'uefi9', true).file).toBe('pxelinux.0');
  });
  it('dhcp-ignore and dhcp-host ignore: no answer', () => {
    expect(ask(['dhcp-range=10.0.0.10,10.0.0.20', 'dhcp-ignore=tag:!known'], 'bios').silent).toBe('dhcp-ignore');
  });
});
