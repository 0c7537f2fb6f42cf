/**
 * `lanboot check` finds what will not work (issue 10, item 5): no interface
 * to listen on, a missing root or boot file, a file for the wrong firmware,
 * the server's own address in a pool or host, menu items and proxy subnets
 * nobody reaches; and prints what each kind of client without a host entry
 * gets. The machine (interfaces, files) is a fake env and a temp directory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.js';
import { checkConfig, formatCheck, formatProblem, type CheckEnv } from '../src/check.js';
import { systemEnv } from '../src/check-problems.js';

let dir: string;
let root: string;

/** A PE header for `machine` (the checker reads only the COFF Machine field). */
function efi(machine: number): Buffer {
  const b = Buffer.alloc(0x100);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  b.writeUInt16LE(machine, 0x84);
  return b;
}
const REAL_MODE = Buffer.from('ea0500c0' + '90'.repeat(60), 'hex');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lb-check-'));
  root = join(dir, 'tftp');
  mkdirSync(root);
  writeFileSync(join(root, 'undionly.kpxe'), REAL_MODE);
  writeFileSync(join(root, 'snponly.efi'), efi(0x8664));
  writeFileSync(join(root, 'arm.efi'), efi(0xaa64));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = (ifs: Array<[string, string, number]> = [['lan0', '10.77.0.1', 24]], extra: string[] = []): CheckEnv => ({
  addressed: () => [{ ifname: 'lo', loopback: true, ipv4: [{ address: '127.0.0.1', prefix: 8, netmask: '' }] }, ...ifs.map(([ifname, address, prefix]) => ({ ifname, loopback: false, ipv4: [{ address, prefix, netmask: '' }] }))],
  interfaceNames: () => ['lo', ...ifs.map(([n]) => n), ...extra],
  head: systemEnv.head,
  isDir: systemEnv.isDir,
});

const BASE = (over: { top?: string; dhcp?: string; boot?: string; hosts?: string; tftpRoot?: string } = {}) =>
  `${over.top ?? ''}state_dir: ${dir}/state
dhcp:
${over.dhcp ?? ''}  subnets:
    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.199 }
tftp:
  root: ${over.tftpRoot ?? root}
boot:
${over.boot ?? '  bios: undionly.kpxe\n  uefi: snponly.efi\n  http_boot: none\n'}hosts:
${over.hosts ?? '  52:54:00:00:00:01: { name: pc1 }\n'}`;

function check(text: string, e: CheckEnv = env()) {
  const config = parseConfig(text, 'lanboot.yaml');
  const r = checkConfig(config, { env: e, text });
  return { r, lines: r.problems.map((p) => formatProblem('lanboot.yaml', p)), text: formatCheck(config, r) };
}

describe('lanboot check: what will not work', () => {
  it('a config that will work: OK, no problems, the plan per client kind without a host entry', () => {
    const { r, text } = check(BASE());
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.listening).toEqual({ rule: 'every interface with an address in dhcp.subnets', interfaces: ['lan0'] });
    expect(text.split('\n')[0]).toBe('lanboot.yaml: OK');
    expect(text).toMatch(/clients without a host entry:\n {2}BIOS PXE +pxe: file "undionly\.kpxe"\n {2}UEFI x86-64 +pxe: file "snponly\.efi"\n/);
    expect(text).toMatch(/ {2}UEFI ARM64 +pxe: an address, no boot file/);
    expect(text).toMatch(/ {2}UEFI HTTP boot +uefi-http: an address, no boot file/); // http_boot: none
    expect(text).toMatch(/ {2}iPXE \(BIOS\) +ipxe: file "tftp:\/\/<ingress-address>\/boot\/00:00:5e:00:53:01\.ipxe"/); // no http: scripts by TFTP
    expect(r.clients.map((c) => c.client)).toEqual(['BIOS PXE', 'UEFI x86-64', 'UEFI IA32', 'UEFI ARM64', 'UEFI HTTP boot', 'iPXE (BIOS)', 'iPXE (UEFI)']);
  });

  it('no interface has an address in a subnet: an error at dhcp.subnets, as file:line: key: problem; fix', () => {
    const { r, lines } = check(BASE(), env([['eth0', '192.0.2.2', 24]]));
    expect(r.ok).toBe(false);
    expect(lines).toEqual([
      expect.stringMatching(/^lanboot\.yaml:3: dhcp\.subnets: no interface of this machine has an address in 10\.77\.0\.0\/24, so DHCP has no LAN to listen on: .*; give the LAN interface an address/),
    ]);
    // Said explicitly: a relay-only server.
    expect(check(BASE({ top: 'interfaces: []\n' }), env([['eth0', '192.0.2.2', 24]])).r.problems).toEqual([]);
  });

  it('a listed interface that is not there, or has no address in a subnet; an excluded one that is not there', () => {
    const { lines } = check(BASE({ top: 'interfaces: [lan0, lan9, wan0]\nexcept_interfaces: [wnn0]\n' }), env([['lan0', '10.77.0.1', 24], ['wan0', '192.0.2.2', 24]]));
    expect(lines).toEqual([
      expect.stringMatching(/^lanboot\.yaml:1: interfaces\[1\]: there is no interface lan9 on this machine/),
      expect.stringMatching(/^lanboot\.yaml:1: interfaces\[2\]: no dhcp\.subnets entry holds an address of wan0 \(192\.0\.2\.2\/24\)/),
      expect.stringMatching(/^lanboot\.yaml:2: warning: except_interfaces\[0\]: there is no interface wnn0/),
    ]);
  });

  it('a missing TFTP root, and a missing boot file at its key with where to get it', () => {
    expect(check(BASE({ tftpRoot: join(dir, 'nope') })).lines).toEqual([expect.stringMatching(/^lanboot\.yaml:6: tftp\.root: the TFTP root .*nope is not a directory/)]);
    const { lines } = check(BASE({ boot: '  bios: ipxe.pxe\n  uefi: snponly.efi\n  http_boot: none\n' }));
    expect(lines).toEqual([expect.stringMatching(/^lanboot\.yaml:8: boot\.bios: ipxe\.pxe is not in the TFTP root .*: BIOS PXE ROMs will fail to load it; (copy \/usr\/lib\/ipxe\/ipxe\.pxe|put it there)/)]);
    // A default (not written) is reported at its section.
    expect(check(BASE({ boot: '  bios: undionly.kpxe\n  http_boot: none\n' }), env()).lines).toEqual([]);
    expect(check(BASE({ boot: '  http_boot: none\n', tftpRoot: join(dir, 'tftp') })).lines).toEqual([]);
  });

  it('a boot file for the wrong firmware, read from its header (or its name when it is not there)', () => {
    const { lines } = check(BASE({ boot: '  bios: snponly.efi\n  uefi: undionly.kpxe\n  arm64: snponly.efi\n  uefi32: arm.efi\n  http_boot: none\n' }));
    expect(lines).toEqual([
      expect.stringMatching(/^lanboot\.yaml:8: boot\.bios: snponly\.efi is an EFI image for x86-64, but it is what BIOS PXE ROMs get: they cannot run it; hand BIOS PXE ROMs undionly\.kpxe/),
      expect.stringMatching(/^lanboot\.yaml:9: boot\.uefi: undionly\.kpxe is not an EFI image \(a BIOS boot file\), but it is what x86-64 UEFI get/),
      expect.stringMatching(/^lanboot\.yaml:10: boot\.arm64: snponly\.efi is an EFI image for x86-64, but it is what ARM64 UEFI get/),
      expect.stringMatching(/^lanboot\.yaml:11: boot\.uefi32: arm\.efi is an EFI image for ARM64, but it is what IA32 UEFI get/),
    ]);
    // Not on disk: the name says a BIOS file (the metal3 / Bifrost import case: ARM64 handed undionly.kpxe).
    const missing = check(BASE({ boot: '  arm64: /pxelinux.0\n  http_boot: none\n' })).lines;
    expect(missing.some((l) => /boot\.arm64: \/pxelinux\.0 is a BIOS boot file \(by its name\), but it is what ARM64 UEFI get/.test(l))).toBe(true);
    expect(missing.some((l) => /boot\.arm64: \/pxelinux\.0 is not in the TFTP root/.test(l))).toBe(true);
    // A host's own slots, at the host's line.
    const host = check(BASE({ hosts: '  52:54:00:00:00:01: { name: pc1, slots: { uefi: undionly.kpxe } }\n' })).lines;
    expect(host).toEqual([expect.stringMatching(/^lanboot\.yaml:12: hosts\.52:54:00:00:00:01\.slots\.uefi: undionly\.kpxe is not an EFI image/)]);
  });

  it("the server's address in the pool is a warning; a host on it an error", () => {
    const { r, lines } = check(BASE({ hosts: '  52:54:00:00:00:01: { name: pc1, ip: 10.77.0.150 }\n' }), env([['lan0', '10.77.0.150', 24]]));
    expect(lines).toEqual([
      expect.stringMatching(/^lanboot\.yaml:4: warning: dhcp\.subnets\[0\]\.range: the pool 10\.77\.0\.100-10\.77\.0\.199 contains this server's address 10\.77\.0\.150 \(lan0\): lanboot never offers it/),
      expect.stringMatching(/^lanboot\.yaml:12: hosts\.52:54:00:00:00:01\.ip: 10\.77\.0\.150 is this server's own address \(lan0\): host pc1 is never offered it/),
    ]);
    expect(r.ok).toBe(false);
    expect(check(BASE()).r.problems).toEqual([]);
  });

  it('menus and proxy subnets nobody reaches', () => {
    const boot = '  bios: undionly.kpxe\n  uefi: snponly.efi\n  http_boot: none\n  menu:\n    - { text: "proxy only", arch: [0], file: undionly.kpxe, proxy: true }\n    - { text: "UEFI", arch: [7], file: undionly.kpxe }\n';
    const { lines } = check(BASE({ boot }));
    expect(lines).toEqual([
      expect.stringMatching(/^lanboot\.yaml:12: warning: boot\.menu\[0\]\.proxy: menu item "proxy only" is for proxy subnets only, and there is none/),
      expect.stringMatching(/^lanboot\.yaml:13: boot\.menu\[1\]\.file: undionly\.kpxe is not an EFI image \(a BIOS boot file\), but menu item "UEFI" is offered to x86-64 UEFI/),
    ]);
    // A proxyDHCP subnet no interface is on, and one whose slots are all none without a menu.
    const proxy = `state_dir: ${dir}/state\ndhcp:\n  mode: proxy\n  subnets:\n    - { subnet: 10.9.0.0/24 }\ntftp: { root: ${root} }\nboot: { bios: none, uefi: none, http_boot: none }\n`;
    const p = check(proxy, env([['lan0', '10.77.0.1', 24], ['lan1', '10.9.0.1', 24]]));
    expect(p.lines).toEqual([expect.stringMatching(/^lanboot\.yaml:3: warning: dhcp\.mode: proxyDHCP answers no PXE client: every boot slot is none and there is no menu/)]);
    const away = check(proxy.replace('bios: none', 'bios: undionly.kpxe'), env([['lan0', '10.77.0.1', 24]]));
    expect(away.lines.some((l) => /warning: dhcp\.subnets\[0\]\.subnet: no interface of this machine has an address in the proxyDHCP subnet 10\.9\.0\.0\/24/.test(l))).toBe(true);
  });

  it('prints the answers in a proxyDHCP subnet beside the leased one, and no boot answer when unknown clients are off', () => {
    const text = BASE({ dhcp: '', boot: '  bios: undionly.kpxe\n  uefi: snponly.efi\n  http_boot: none\n' }).replace(
      '    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.199 }\n',
      '    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.199 }\n    - { subnet: 10.9.0.0/24, proxy: true }\n',
    );
    const { r, text: out } = check(text, env([['lan0', '10.77.0.1', 24], ['lan1', '10.9.0.1', 24]]));
    expect(r.problems).toEqual([]);
    expect(r.clients.filter((c) => c.subnet === '10.9.0.0/24')).toHaveLength(7);
    expect(out).toMatch(/ in proxyDHCP subnet 10\.9\.0\.0\/24:\n {2}BIOS PXE +pxe: file "undionly\.kpxe"/);
    const off = check(BASE({ boot: '  bios: undionly.kpxe\n  uefi: snponly.efi\n  http_boot: none\n  unknown_clients: false\n' }));
    expect(off.text).toMatch(/clients without a host entry \(boot\.unknown_clients: false\):\n {2}BIOS PXE +no boot answer \(unknown client/);
  });
});
