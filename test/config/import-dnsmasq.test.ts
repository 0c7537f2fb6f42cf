/**
 * `lanboot import dnsmasq`, whole (stage 6, emit): the answers become boot
 * slots, menus, hosts and subnets; the YAML loads; each line lanboot cannot
 * carry, or answers differently, is named at its line. The differential test
 * (test/differential) checks the same configs against a running dnsmasq.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { importDnsmasq } from '../../src/config/import/dnsmasq.js';
import { parseConfig } from '../../src/config/load.js';

const dir = (sub: string) => fileURLToPath(new URL(`../fixtures/dnsmasq/${sub}`, import.meta.url));
const run = (name: string, text = readFileSync(dir(name), 'utf8')) => {
  const r = importDnsmasq(text, name);
  return { ...r, cfg: parse(r.yaml) as Record<string, any>, text };
};
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
const warnedAt = (w: { line: number; message: string }[], line: number, re: RegExp) => w.some((x) => x.line === line && re.test(x.message));

describe('the corpus imports into configs that load', () => {
  for (const f of readdirSync(dir('corpus'))) {
    it(f, () => {
      const { yaml } = run(`corpus/${f}`);
      expect(() => parseConfig(yaml, 'imported.yaml')).not.toThrow();
    });
  }
});

describe('slots', () => {
  it('metal3: the ARM64 slot comes from its tag; UEFI and BIOS their own; iPXE its URL; no PXE vendor options', () => {
    const { cfg } = run('corpus/metal3-ironic.conf');
    expect(cfg.boot).toMatchObject({
      bios: '/undionly.kpxe', uefi: 'snponly.efi', arm64: '/arm64-efi/snponly.efi', script: 'http://172.22.0.2:6180/boot.ipxe',
      server_name: '172.22.0.2', pxe_options: false, ipxe_no_pxedhcp: false, http_client: false,
    });
    expect(cfg.interfaces).toEqual(['provisioning']);
  });
  it('none for every kind dnsmasq does not answer; iPXE answered like its ROM when dnsmasq does not tell them apart', () => {
    const { cfg, warnings, text } = run('corpus/netbootxyz-docker.conf');
    expect(cfg.boot).toMatchObject({ bios: 'netboot.xyz.kpxe', uefi: 'netboot.xyz.efi', arm64: 'none', http_boot: 'none', uefi32: 'none', detect_ipxe: false, next_server: '192.168.1.2' });
    expect(cfg.boot.script).toBeUndefined();
    // "Arch:0000B" (hex) never matches: said once, at the match; the dhcp-boot it guards gets no false warning.
    expect(warnedAt(warnings, lineOf(text, '0000B'), /decimal/)).toBe(true);
    expect(warnings.filter((w) => w.line === lineOf(text, 'netboot.xyz-arm64.efi'))).toEqual([]);
  });
  it("keeps dnsmasq's own answer to iPXE: a file name stays a file name", () => {
    expect(run('corpus/ltsp.conf').cfg.boot.script).toBe('ltsp/ltsp.ipxe');
    expect(run('ipxe-chainload.conf').cfg.boot.script).toBe('http://10.20.0.5/boot.php?mac=${{net0/mac}}');
  });
  it('per-host tags become per-host slots (Forester: each enlisted machine its own files and script)', () => {
    const text = readFileSync(dir('corpus/forester-ipxe.conf'), 'utf8') + 'dhcp-range=192.168.122.2,192.168.122.254\n';
    const { cfg } = run('forester.conf', text);
    expect(cfg.boot).toMatchObject({ bios: 'none', uefi: 'none', script: 'none', http_client: true });
    expect(cfg.hosts['52:54:00:f0:00:01']).toEqual({
      slots: {
        bios: 'boot/ipxe/undionly.kpxe',
        uefi: 'boot/ipxe/ipxe-snponly-x86_64.efi',
        http_boot: 'http://192.168.122.1:8000/boot/ipxe/ipxe-snponly-x86_64.efi',
        script: 'boot/ipxes/52:54:00:f0:00:01/script.ipxe',
      },
    });
  });
});

describe('PXE menus, modes', () => {
  it('LTSP: a proxy subnet beside the leased one; pxe-service tags become proxy / ipxe / MAC conditions', () => {
    const { cfg, warnings, text } = run('corpus/ltsp.conf');
    expect(cfg.dhcp.mode).toBe('authoritative');
    expect(cfg.dhcp.subnets).toEqual([
      { subnet: '192.168.67.0/24', range: '192.168.67.20-192.168.67.250', lease: '12h', dns: ['8.8.8.8', '208.67.222.222'] },
      { subnet: '192.168.0.0/24', proxy: true },
    ]);
    expect(cfg.boot.menu[0]).toEqual({ text: 'undionly.kpxe', arch: [0], file: 'ltsp/undionly.kpxe', type: 32768, proxy: true, ipxe: false });
    expect(cfg.boot.menu[4]).toMatchObject({ text: 'Raspberry Pi Boot   ', arch: [0], file: 'unused.0', type: 32772 });
    expect(cfg.boot.menu[4].macs).toContain('b8:27:eb:00:00:00/24');
    expect(cfg.boot.pxe_options).toBe(true);
    // The iPXE feature checks and tag-ifs are evaluated, not reported as lost.
    for (const l of ['175,19', 'tag-if=set:ipxe', 'dhcp-mac=set:rpi,b8', 'pxe-service=tag:proxy']) expect(warnings.filter((w) => w.line === lineOf(text, l))).toEqual([]);
  });
  it('Raspberry Pi docs: CSA given as a number, an entry with no file, a proxy range on a broadcast address', () => {
    const { cfg } = run('corpus/rpi-netboot.conf');
    expect(cfg.dhcp).toEqual({ mode: 'proxy', subnets: [{ subnet: '10.42.0.0/24' }] });
    expect(cfg.boot.menu).toEqual([{ text: 'Raspberry Pi Boot', arch: [0], type: 0 }]);
    expect(cfg.boot).toMatchObject({ bios: 'none', uefi: 'none' });
  });
  it('FOG: pxe-prompt, servers per entry, CSA by every dnsmasq name', () => {
    const { cfg } = run('corpus/fog-proxy.conf');
    expect(cfg.boot.prompt).toEqual({ text: 'Booting FOG Client', timeout: 1 });
    expect(cfg.boot.menu.map((i: { arch: number[] }) => i.arch[0])).toEqual([0, 6, 7, 9, 11]);
    expect(cfg.boot.menu[0]).toMatchObject({ file: 'undionly.kkpxe', server: '192.168.1.10' });
    expect(cfg.boot.next_server).toBe('192.168.1.10');
  });
});

describe('warnings name the consequence', () => {
  it('an HTTPClient typo is fixed and said so; ARM64 handed a BIOS file is said so', () => {
    const q = run('openqa.conf', readFileSync(dir('corpus/openqa-pxeboot.conf'), 'utf8') + 'dhcp-range=10.150.1.100,10.150.1.200\n');
    expect(q.warnings.some((w) => /"HTTPClien" is not "HTTPClient".*will now accept/.test(w.message))).toBe(true);
    expect(run('corpus/bifrost.conf').warnings.some((w) => /ARM64 UEFI is handed \/undionly\.kpxe, a BIOS boot file/.test(w.message))).toBe(true);
  });
  it('odd lines: each one it cannot carry over is reported at its line; the rest still converts', () => {
    const { cfg, warnings, text } = run('odds.conf');
    const expectWarn = (needle: string, re: RegExp) => {
      const l = lineOf(text, needle);
      expect(warnedAt(warnings, l, re), `${l}: ${needle}`).toBe(true);
    };
    expectWarn('domain-needed', /DNS/);
    expectWarn('conf-file=', /included files are not read/);
    expectWarn(',infinite', /infinite/);
    expectWarn('172.16.5.70', /one pool per subnet/);
    expectWarn('::1000', /IPv6/);
    expectWarn('encap:175,190', /175\.190/);
    expectWarn('twin', /2 MACs/);
    expectWarn(',ignore', /never answers this machine/);
    expectWarn('id:01', /client-id/);
    expectWarn(',45m', /lease time/);
    expectWarn('dhcp-ignore', /still leases/);
    expectWarn('tftp-secure', /tftp-secure/);
    expectWarn('something-new', /not a setting/);
    expect(cfg.boot).toMatchObject({ bios: 'pxelinux.0', unknown_clients: false, ipxe_no_pxedhcp: true });
    // dhcp-ignore=tag:!known: only hosts are answered, so the slots are a host's; "special" has its own file.
    expect(cfg.hosts['52:54:00:00:00:0d']).toEqual({
      name: 'nine', ip: '172.16.5.10',
      slots: { bios: 'special/lpxelinux.0', uefi: 'special/lpxelinux.0', uefi32: 'special/lpxelinux.0', arm32: 'special/lpxelinux.0', arm64: 'special/lpxelinux.0', http_boot: 'special/lpxelinux.0' },
    });
    expect(cfg.hosts['52:54:00:00:00:0a']).toEqual({ name: 'twin', ip: '172.16.5.9' });
    expect(cfg.hosts['52:54:00:00:00:0c']).toEqual({ boot: 'none' });
    expect(() => parseConfig(run('odds.conf').yaml, 'x.yaml')).not.toThrow();
  });
  it('old syntax: bare network-id in dhcp-range and dhcp-option, net:# negation', () => {
    const conf = [
      'dhcp-range=lan,192.168.1.100,192.168.1.200,255.255.255.0,12h',
      'dhcp-option=lan,3,192.168.1.1',
      'dhcp-match=gpxe,175',
      'dhcp-boot=net:#gpxe,undionly.kpxe',
      'dhcp-boot=net:gpxe,http://192.168.1.1/boot.ipxe',
    ].join('\n');
    const r = run('old.conf', conf);
    expect(r.cfg.dhcp.subnets).toEqual([{ subnet: '192.168.1.0/24', range: '192.168.1.100-192.168.1.200', lease: '12h', router: '192.168.1.1' }]);
    expect(r.cfg.boot).toMatchObject({ bios: 'undionly.kpxe', uefi: 'undionly.kpxe', script: 'http://192.168.1.1/boot.ipxe' });
  });
});

describe('listening: the interfaces dnsmasq serves (issue 10, item 1)', () => {
  const range = 'dhcp-range=192.168.1.100,192.168.1.200,255.255.255.0,12h\n';
  it('no interface= line: interfaces is left unset (served by subnet, as dnsmasq), no warning about it', () => {
    const r = run('plain.conf', range);
    expect(r.cfg.interfaces).toBeUndefined();
    expect(r.warnings.filter((w) => /interface/.test(w.message))).toEqual([]);
    expect(parseConfig(r.yaml, 'x.yaml').interfaces).toBeUndefined();
  });
  it('interface= and bind-interfaces/bind-dynamic: the named interfaces; patterns are said not to carry over', () => {
    const r = run('named.conf', `interface=lan0\nbind-interfaces\ninterface=wg*\n${range}`);
    expect(r.cfg.interfaces).toEqual(['lan0']);
    expect(warnedAt(r.warnings, 3, /interface pattern wg\*/)).toBe(true);
  });
  it('except-interface and no-dhcp-interface become except_interfaces (lo needs none)', () => {
    const r = run('except.conf', `except-interface=lo\nexcept-interface=wan0\nno-dhcp-interface=eth9\n${range}`);
    expect(r.cfg.except_interfaces).toEqual(['wan0', 'eth9']);
    expect(r.cfg.interfaces).toBeUndefined();
    expect(r.warnings.filter((w) => w.line <= 3)).toEqual([]);
    expect(parseConfig(r.yaml, 'x.yaml').except_interfaces).toEqual(['wan0', 'eth9']);
  });
  it('a range tagged with an interface name is served on that interface (dhcp-option tag:IFACE follows it)', () => {
    const conf = [
      'interface=eth1', 'interface=eth2', 'bind-interfaces',
      'dhcp-range=tag:eth1,192.168.11.2,192.168.11.150,255.255.255.0,24h', 'dhcp-range=tag:eth2,192.168.1.2,192.168.1.150,255.255.255.0,24h',
      'dhcp-option=tag:eth1,option:router,192.168.11.1', 'dhcp-option=tag:eth2,option:router,192.168.1.1',
    ].join('\n');
    const r = run('tags.conf', conf);
    expect(r.cfg.interfaces).toEqual(['eth1', 'eth2']);
    expect(r.cfg.dhcp.subnets).toEqual([
      { subnet: '192.168.11.0/24', range: '192.168.11.2-192.168.11.150', interface: 'eth1', lease: '1d', router: '192.168.11.1' },
      { subnet: '192.168.1.0/24', range: '192.168.1.2-192.168.1.150', interface: 'eth2', lease: '1d', router: '192.168.1.1' },
    ]);
    expect(r.warnings.filter((w) => w.line >= 4)).toEqual([]);
  });
  it('listen-address in a range needs nothing; one outside every range is reported', () => {
    expect(run('la.conf', `listen-address=192.168.1.1\n${range}`).warnings.filter((w) => w.line === 1)).toEqual([]);
    expect(warnedAt(run('la2.conf', `listen-address=10.9.9.9\n${range}`).warnings, 1, /listen-address=10\.9\.9\.9/)).toBe(true);
  });
});

describe('robustness', () => {
  it('never throws and always emits YAML that loads, on mangled input', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const lines = readdirSync(dir('corpus')).flatMap((f) => readFileSync(dir(`corpus/${f}`), 'utf8').split('\n'));
    const junk = ['=', ',,,', 'dhcp-range=', 'dhcp-host=,,', 'tag-if=set:', 'dhcp-boot=tag:', '"', 'dhcp-match=set:x', 'pxe-service=,', 'pxe-service=x86PC,"a",b,c,d', '\u0000'];
    for (let i = 0; i < 300; i++) {
      const n = 1 + rnd(30);
      const conf: string[] = [];
      for (let j = 0; j < n; j++) {
        let l = rnd(5) === 0 ? junk[rnd(junk.length)]! : lines[rnd(lines.length)]!;
        if (rnd(4) === 0) l = l.slice(0, rnd(l.length + 1));
        conf.push(l);
      }
      const r = importDnsmasq(conf.join('\n'), 'fuzz.conf');
      expect(() => parse(r.yaml)).not.toThrow();
      for (const w of r.warnings) expect(w.line).toBeLessThanOrEqual(n);
    }
  });
});
