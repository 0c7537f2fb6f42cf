/** Stages 3 and 4: dnsmasq's tables, and the tags one client gets (dhcp-match, classes, dhcp-mac, tag-if). */
import { describe, expect, it } from 'vitest';
import { parseDnsmasq } from '../../src/config/import/dnsmasq/parse.js';
import { buildModel, matchValue } from '../../src/config/import/dnsmasq/model.js';
import { clientTags, matchBytes, matchNetid } from '../../src/config/import/dnsmasq/tags.js';
import { ANY_MAC, kind } from '../../src/config/import/dnsmasq/clients.js';

const model = (text: string) => buildModel(parseDnsmasq(text), []);
const tagsOf = (text: string, id: Parameters<typeof kind>[0], mac = ANY_MAC) => [...clientTags(model(text), kind(id).request(mac), {})].sort();

describe('match values as parse_dhcp_opt() reads them', () => {
  it('client-arch numbers are two bytes and match whole elements; 175 feature codes one byte anywhere', () => {
    expect(matchValue(93, '7')).toMatchObject({ bytes: Buffer.from([0, 7]), step: 2, hex: false });
    expect(matchBytes(matchValue(93, '7'), Buffer.from([0, 7]))).toBe(true);
    expect(matchBytes(matchValue(93, '7'), Buffer.from([7, 0]))).toBe(false);
    expect(matchBytes(matchValue(175, '19'), Buffer.from([33, 1, 1, 19, 1, 1]))).toBe(true);
  });
  it('text is a substring; hex with colons is left-anchored with * wildcards', () => {
    expect(matchBytes(matchValue(60, 'PXEClient:Arch:00007'), Buffer.from('PXEClient:Arch:00007:UNDI:003016'))).toBe(true);
    expect(matchBytes(matchValue(97, '00:*:11'), Buffer.from([0, 0x42, 0x11, 0x11]))).toBe(true);
    expect(matchBytes(matchValue(97, '00:*:11'), Buffer.from([1, 0x42, 0x11]))).toBe(false);
  });
});

describe('client tags', () => {
  it('arch tags from option 93 or 60, iPXE from 175 or user class, "known" and host tags', () => {
    const conf = 'dhcp-match=set:efi,option:client-arch,7\ndhcp-match=set:bios,60,PXEClient:Arch:00000\ndhcp-match=ipxe,175\ndhcp-userclass=set:uc,iPXE\n';
    expect(tagsOf(conf, 'uefi')).toEqual(['efi']);
    expect(tagsOf(conf, 'ipxe-bios')).toEqual(['bios', 'ipxe', 'uc']);
    const m = model(conf + 'dhcp-host=52:54:00:00:00:01,set:lab\n');
    expect([...clientTags(m, kind('bios').request('52:54:00:00:00:01'), { host: m.hosts[0] })].sort()).toEqual(['bios', 'known', 'lab']);
  });
  it('option 97 (client machine id) can be matched: PXE ROMs send it, iPXE does not', () => {
    const conf = 'dhcp-match=set:uuid,97\ndhcp-match=set:uuid0,97,00:11\n';
    expect(tagsOf(conf, 'uefi')).toEqual(['uuid', 'uuid0']);
    expect(tagsOf(conf, 'ipxe-uefi')).toEqual([]);
  });
  it('tag-if chains run once, in file order, with * wildcards (LTSP: iPXE with the features it needs)', () => {
    const ltsp = [
      'dhcp-match=set:ipxe-http,175,19', 'dhcp-match=set:ipxe-menu,175,39', 'dhcp-match=set:ipxe-pxe,175,33',
      'dhcp-match=set:ipxe-bzimage,175,24', 'dhcp-match=set:ipxe-efi,175,36',
      'tag-if=set:ipxe,tag:ipxe-http,tag:ipxe-menu,tag:ipxe-pxe,tag:ipxe-bzimage',
      'tag-if=set:ipxe,tag:ipxe-http,tag:ipxe-menu,tag:ipxe-efi',
      'tag-if=set:late,tag:later', 'tag-if=set:later,tag:ipxe', 'tag-if=set:wild,tag:ipxe-*',
    ].join('\n');
    expect(tagsOf(ltsp, 'ipxe-bios')).toContain('ipxe');
    expect(tagsOf(ltsp, 'ipxe-uefi')).toContain('ipxe');
    expect(tagsOf(ltsp, 'ipxe-uefi')).not.toContain('late'); // set by a tag-if that runs before the one it needs
    expect(tagsOf(ltsp, 'ipxe-uefi')).toEqual(expect.arrayContaining(['later', 'wild']));
    expect(tagsOf(ltsp, 'bios')).toEqual([]);
  });
  it('dhcp-mac patterns; vendor classes match anywhere in option 60', () => {
    const conf = 'dhcp-mac=set:rpi,b8:27:eb:*:*:*\ndhcp-vendorclass=set:undi,UNDI\n';
    expect(tagsOf(conf, 'bios', 'b8:27:eb:01:02:03')).toEqual(['rpi', 'undi']);
    expect(tagsOf(conf, 'plain', '52:54:00:01:02:03')).toEqual([]);
  });
  it('match_netid: negation and # negation; no conditions match only when allowed', () => {
    const t = new Set(['a']);
    expect(matchNetid([{ name: 'a', neg: false }, { name: 'b', neg: true }], t, false)).toBe(true);
    expect(matchNetid([], t, false)).toBe(false);
    expect(matchNetid([], t, true)).toBe(true);
    expect(model('dhcp-boot=net:#gpxe,x')).toMatchObject({ boots: [{ conds: [{ name: 'gpxe', neg: true }] }] });
  });
});

describe('model', () => {
  it('pxe-service: CSA by name or number, types numbered from 32768 for entries with a file, local boot 0', () => {
    const m = model('pxe-service=0,"Raspberry Pi Boot"\npxe-service=x86PC,"A",pxelinux\npxe-service=X86-64_EFI,"B",b.efi,10.0.0.5\npxe-service=x86PC,"C",3\n');
    expect(m.services.map((s) => [s.csa, s.type, s.basename, s.server])).toEqual([
      [0, 0, undefined, undefined], [0, 32768, 'pxelinux', undefined], [7, 32769, 'b.efi', '10.0.0.5'], [0, 3, undefined, undefined],
    ]);
    expect(m.enablePxe).toBe(true);
  });
  it('dhcp-boot: server name and next server; "!tag:x" is read as the tag dnsmasq takes for a file name', () => {
    const warnings: { line: number; message: string }[] = [];
    const m = buildModel(parseDnsmasq('dhcp-boot=/undionly.kpxe,172.22.0.2\ndhcp-boot=tag:ok,!tag:http,file.ipxe,,10.0.0.1\n'), warnings);
    expect(m.boots[0]).toEqual({ line: 1, conds: [], file: '/undionly.kpxe', sname: '172.22.0.2' });
    expect(m.boots[1]).toMatchObject({ file: 'file.ipxe', server: '10.0.0.1', conds: [{ name: 'ok', neg: false }, { name: 'http', neg: true }] });
    expect(warnings).toEqual([{ line: 2, message: expect.stringMatching(/reads "!tag:http" as the boot file name/) }]);
  });
});
