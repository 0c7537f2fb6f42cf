import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { importDnsmasq, parseDnsmasq } from '../../src/config/import/dnsmasq.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/dnsmasq/${name}`, import.meta.url));
const run = (name: string) => {
  const text = readFileSync(fixture(name), 'utf8');
  const r = importDnsmasq(text, name);
  return { ...r, cfg: parse(r.yaml) as Record<string, any>, text };
};
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
const warnedAt = (w: { line: number; message: string }[], line: number, re: RegExp) =>
  w.some((x) => x.line === line && re.test(x.message));

/** The imported YAML must load as it is: schema, then the loader's semantic checks. */
async function schemaCheck(cfg: unknown, yamlText?: string): Promise<void> {
  const p = fileURLToPath(new URL('../../src/config/schema.ts', import.meta.url));
  if (!existsSync(p)) return;
  const { root } = await import('../../src/config/schema.js');
  const res = root.safeParse(cfg);
  expect(res.success ? [] : res.error.issues).toEqual([]);
  if (yamlText === undefined || !existsSync(fileURLToPath(new URL('../../src/config/load.ts', import.meta.url)))) return;
  const { parseConfig } = await import('../../src/config/load.js');
  expect(() => parseConfig(yamlText, 'imported.yaml')).not.toThrow();
}

describe('dnsmasq reader', () => {
  it('strips comments only outside quotes and after whitespace, splits at commas outside quotes', () => {
    const d = parseDnsmasq('# c\npxe-service=X86PC,"a, #b",file # note\ndhcp-boot=a#b\n  --enable-tftp\n');
    expect(d).toEqual([
      { line: 2, key: 'pxe-service', value: 'X86PC,"a, #b",file', args: ['X86PC', 'a, #b', 'file'] },
      { line: 3, key: 'dhcp-boot', value: 'a#b', args: ['a#b'] },
      { line: 4, key: 'enable-tftp', args: [] },
    ]);
  });
});

describe('importDnsmasq', () => {
  it('iPXE chainloading shape: PXE ROMs get the chain file per arch, iPXE gets the script', async () => {
    const { cfg, warnings, yaml } = run('ipxe-chainload.conf');
    expect(warnings).toEqual([]);
    expect(cfg.interfaces).toEqual(['lan0']);
    expect(cfg.dhcp).toEqual({
      mode: 'authoritative',
      subnets: [
        { subnet: '10.20.0.0/24', range: '10.20.0.100-10.20.0.180', lease: '6h', router: '10.20.0.1', dns: ['10.20.0.1', '10.20.0.2'] },
      ],
    });
    expect(cfg.tftp).toEqual({ root: '/srv/netboot' });
    expect(cfg.admin).toEqual({ address: '127.0.0.1', port: 8067 }); // the status page, loopback only
    // iPXE's own ${...} survives as literal text through lanboot's {template} syntax.
    expect(cfg.boot).toEqual({ bios: 'undionly.kpxe', uefi: 'snponly.efi', script: 'http://10.20.0.5/boot.php?mac=${{net0/mac}}' });
    expect(cfg.hosts).toEqual({
      '52:54:00:aa:00:01': { name: 'alpha', ip: '10.20.0.11' },
      '52:54:00:aa:00:02': { ip: '10.20.0.12' },
      '52:54:00:aa:00:03': { name: 'gamma' },
    });
    await schemaCheck(cfg, yaml);
  });

  it('follows conf-dir (with its filters), conf-file and dhcp-hostsfile; warnings name the included file and line', async () => {
    const files: Record<string, string> = {
      '/etc/dnsmasq.conf': 'interface=lan0\nconf-dir=/etc/dnsmasq.d,*.conf\nconf-file=/etc/missing.conf\n',
      '/etc/dnsmasq.d/10-dhcp.conf': 'dhcp-range=10.9.0.100,10.9.0.150,12h\ndhcp-hostsfile=/etc/hosts.dhcp\n',
      '/etc/dnsmasq.d/20-boot.conf': 'dhcp-match=set:ipxe,175\ndhcp-boot=tag:!ipxe,undionly.kpxe\ndhcp-boot=tag:ipxe,http://10.9.0.1/boot.ipxe\n# note\npxe-prompt="Boot",5\nconf-file=/etc/dnsmasq.d/20-boot.conf\n',
      '/etc/dnsmasq.d/30-old.conf.bak': 'dhcp-range=10.99.0.1,10.99.0.2\n',
      '/etc/dnsmasq.d/.hidden.conf': 'dhcp-range=10.98.0.1,10.98.0.2\n',
      '/etc/hosts.dhcp': '52:54:00:09:00:01,pc1,10.9.0.11\n52:54:00:09:00:02,pc2\n',
    };
    const io = {
      read: (f: string) => {
        if (!(f in files)) throw new Error('ENOENT');
        return files[f]!;
      },
      list: (d: string) => Object.keys(files).filter((f) => f.startsWith(d + '/')).map((f) => f.slice(d.length + 1)),
    };
    const r = importDnsmasq(files['/etc/dnsmasq.conf']!, '/etc/dnsmasq.conf', io);
    const cfg = parse(r.yaml) as Record<string, any>;
    expect(cfg.dhcp.subnets).toEqual([{ subnet: '10.9.0.0/24', range: '10.9.0.100-10.9.0.150', lease: '12h' }]);
    expect(cfg.boot).toMatchObject({ bios: 'undionly.kpxe', script: 'http://10.9.0.1/boot.ipxe' });
    expect(cfg.hosts).toEqual({ '52:54:00:09:00:01': { name: 'pc1', ip: '10.9.0.11' }, '52:54:00:09:00:02': { name: 'pc2' } });
    expect(r.warnings).toEqual(
      expect.arrayContaining([
        { line: 3, message: expect.stringMatching(/cannot read \/etc\/missing\.conf/) },
        { line: 1, file: '/etc/dnsmasq.d/10-dhcp.conf', message: expect.stringMatching(/no netmask/) },
        { line: 2, file: '/etc/dnsmasq.d/20-boot.conf', message: expect.stringMatching(/UEFI clients too/) },
        { line: 5, file: '/etc/dnsmasq.d/20-boot.conf', message: expect.stringMatching(/PXE ROM menu/) },
        { line: 6, file: '/etc/dnsmasq.d/20-boot.conf', message: expect.stringMatching(/includes itself/) },
      ]),
    );
    expect(r.warnings).toHaveLength(5); // nothing from the filtered-out .bak and hidden files
    expect(r.yaml).toContain('/etc/dnsmasq.d/20-boot.conf:5: pxe-prompt');
    await schemaCheck(cfg, r.yaml);
  });

  it('hosts are written one line each (flow maps)', () => {
    const { yaml } = run('ipxe-chainload.conf');
    expect(yaml).toMatch(/^ {2}52:54:00:aa:00:01: \{ name: alpha, ip: 10\.20\.0\.11 \}$/m);
  });

  it('LTSP shape: evaluates tag-if over iPXE feature tags, drops the proxy range and its pxe-services with reasons', async () => {
    const { cfg, warnings, text, yaml } = run('ltsp.conf');
    expect(cfg.dhcp.mode).toBe('authoritative');
    expect(cfg.dhcp.subnets).toEqual([
      { subnet: '192.168.67.0/24', range: '192.168.67.20-192.168.67.250', lease: '12h', dns: ['9.9.9.9'] },
    ]);
    expect(cfg.boot).toEqual({ bios: 'ltsp/undionly.kpxe', uefi: 'ltsp/snponly.efi', script: 'tftp://{tftp}/ltsp/ltsp.ipxe' });
    expect(cfg.tftp).toEqual({ root: '/srv/tftp' });
    const proxyLine = lineOf(text, ',proxy,');
    expect(warnedAt(warnings, proxyLine, /one DHCP mode/)).toBe(true);
    expect(warnedAt(warnings, lineOf(text, '0.0.0.0,9.9.9.9'), /0\.0\.0\.0/)).toBe(true);
    expect(warnedAt(warnings, lineOf(text, 'dhcp-mac='), /dhcp-mac/)).toBe(true);
    expect(warnedAt(warnings, lineOf(text, '175,19'), /feature check 175\.19/)).toBe(true);
    const pxe1 = lineOf(text, 'pxe-service=tag:proxy,tag:!ipxe,X86PC');
    expect(warnedAt(warnings, pxe1, new RegExp(`range on line ${proxyLine}`))).toBe(true);
    expect(warnedAt(warnings, lineOf(text, 'tag:rpi,X86PC'), /tag rpi comes from line/)).toBe(true);
    expect(warnings.some((w) => w.line === 0 && /interface/.test(w.message))).toBe(true);
    // The dhcp-boot lines all survived: no warning names them.
    for (const l of ['tag:!ipxe,tag:X86PC', 'tag:!ipxe,tag:X86-64_EFI', 'dhcp-boot=tag:ipxe'])
      expect(warnings.filter((w) => w.line === lineOf(text, l))).toEqual([]);
    await schemaCheck(cfg, yaml);
  });

  it('netboot.xyz proxy shape: option-60 and arch tags fill every firmware slot, next-server becomes server', async () => {
    const { cfg, warnings, text, yaml } = run('netbootxyz-proxy.conf');
    expect(cfg.server).toBe('192.168.8.2');
    expect(cfg.interfaces).toEqual(['eth0']);
    expect(cfg.dhcp).toEqual({
      mode: 'proxy',
      subnets: [{ subnet: '192.168.8.0/24' }],
      user_classes: [
        { match: 'iPXE', ipxe: true },
        { match: 'FreeBSD', ipxe: false, tag: 'fbsd' },
      ],
    });
    expect(cfg.tftp).toEqual({ root: '/var/lib/netbootxyz/menus', blksize_max: 512 });
    expect(cfg.boot).toEqual({
      bios: 'netboot.xyz.kpxe',
      uefi: 'netboot.xyz.efi',
      uefi32: 'netboot.xyz-i386.efi',
      arm64: 'netboot.xyz-arm64.efi',
      http_boot: 'http://192.168.8.2/ipxe/netboot.xyz.efi',
      script: 'http://192.168.8.2/menu.ipxe',
    });
    expect(warnings).toEqual([{ line: lineOf(text, 'pxe-prompt'), message: expect.stringMatching(/PXE ROM menu/) }]);
    await schemaCheck(cfg, yaml);
  });

  it('odd lines: each one it cannot carry over is reported at its line; the rest still converts', async () => {
    const { cfg, warnings, text, yaml } = run('odds.conf');
    const expectWarn = (needle: string, re: RegExp) => {
      const l = lineOf(text, needle);
      expect(l, needle).toBeGreaterThan(0);
      expect(warnedAt(warnings, l, re), `${l}: ${needle}`).toBe(true);
    };
    expectWarn('domain-needed', /DNS/);
    expectWarn('server=9.9.9.9', /DNS/);
    expectWarn('conf-file=', /included files are not read/);
    expectWarn(',infinite', /infinite/);
    expectWarn('172.16.5.70', /one pool per subnet/);
    expectWarn('::1000', /IPv6/);
    expectWarn('encap:175,190', /175\.190/);
    expectWarn('twin', /2 MACs/);
    expectWarn(',ignore', /ignore/);
    expectWarn('id:01', /client-id/);
    expectWarn(',45m', /lease time/);
    expectWarn('dhcp-boot=pxelinux.0', /UEFI/);
    expectWarn('dhcp-ignore', /unknown_clients/);
    expectWarn('tftp-secure', /tftp-secure/);
    expectWarn('something-new', /not a setting/);
    // 175.176 is what lanboot sends iPXE anyway: silently carried.
    expect(warnings.filter((w) => w.line === lineOf(text, 'encap:175,176'))).toEqual([]);

    expect(cfg.interfaces).toEqual(['br0', 'br1']);
    expect(cfg.dhcp.subnets).toEqual([
      { subnet: '172.16.4.0/23', range: '172.16.5.50-172.16.5.60', domain: 'lab.example', options: { '42': '172.16.5.1' } },
      {
        subnet: '10.9.9.0/24',
        lease: '2d',
        router: '10.9.9.1',
        domain: 'lab.example',
        options: { '17': 'iscsi:10.9.9.1::3260:1:iqn.2010-01.lab:disk', '42': '172.16.5.1' },
      },
    ]);
    expect(cfg.boot).toEqual({ bios: 'pxelinux.0', unknown_clients: false });
    expect(cfg.tftp).toBeUndefined(); // no enable-tftp: dnsmasq did not serve TFTP either
    expect(cfg.hosts).toEqual({
      '52:54:00:00:00:0a': { name: 'twin', ip: '172.16.5.9' },
      '52:54:00:00:00:0d': { name: 'nine', ip: '172.16.5.10', bootfile: 'special/lpxelinux.0' },
    });
    // The operator sees the reasons in the file too.
    expect(yaml).toContain(`#   ${lineOf(text, 'tftp-secure')}: tftp-secure`);
    await schemaCheck(cfg, yaml);
  });

  it('dnsmasq precedence: a tagged dhcp-boot beats an untagged one wherever it sits; the last tagged match wins', () => {
    const conf = [
      'interface=lan0',
      'dhcp-range=10.0.0.10,10.0.0.20,255.255.255.0',
      'dhcp-match=set:ipxe,175',
      'dhcp-match=set:efi,option:client-arch,7',
      'dhcp-boot=tag:!ipxe,undionly.kpxe',
      'dhcp-boot=tag:efi,tag:!ipxe,first.efi',
      'dhcp-boot=tag:efi,tag:!ipxe,ipxe.efi',
      'dhcp-boot=http://10.0.0.1/bootstrap.ipxe',
    ].join('\n');
    const r = importDnsmasq(conf, 'x.conf');
    const cfg = parse(r.yaml);
    // find_boot(): tagged entries first, last line first; untagged only as a fallback.
    expect(cfg.boot).toEqual({ bios: 'undionly.kpxe', uefi: 'ipxe.efi', script: 'http://10.0.0.1/bootstrap.ipxe' });
    expect(warnedAt(r.warnings, 6, /first\.efi.*not carried over/)).toBe(true);
  });

  it('the iPXE howto shape: untagged script URL last, tag:!ipxe chain file (with a trailing comment)', () => {
    const conf = [
      'dhcp-range=10.0.0.10,10.0.0.20,255.255.255.0',
      'dhcp-match=set:ipxe,175 # option 175 means iPXE',
      'dhcp-boot=tag:!ipxe,undionly.kpxe',
      'dhcp-boot=http://boot.example/real_boot_script.php',
    ].join('\n');
    const r = importDnsmasq(conf, 'howto.conf');
    expect(parse(r.yaml).boot).toEqual({ bios: 'undionly.kpxe', script: 'http://boot.example/real_boot_script.php' });
    // UEFI firmware would get the BIOS-only undionly.kpxe from dnsmasq; lanboot says so.
    expect(warnedAt(r.warnings, 3, /UEFI/)).toBe(true);
  });

  it('a per-host tag that changes the iPXE stage becomes boot: chain', () => {
    const conf = [
      'interface=lan0',
      'dhcp-range=10.0.0.10,10.0.0.20,255.255.255.0,1h',
      'dhcp-userclass=set:ipxe,iPXE',
      'dhcp-boot=tag:!ipxe,undionly.kpxe',
      'dhcp-boot=tag:ipxe,http://10.0.0.1/menu.ipxe',
      'dhcp-boot=tag:ipxe,tag:kiosk,http://10.0.0.1/kiosk.ipxe',
      'dhcp-host=52:54:00:00:01:01,set:kiosk,kiosk1,10.0.0.5',
    ].join('\n');
    const cfg = parse(importDnsmasq(conf, 'x.conf').yaml);
    expect(cfg.boot.script).toBe('http://10.0.0.1/menu.ipxe');
    expect(cfg.hosts).toEqual({
      '52:54:00:00:01:01': { name: 'kiosk1', ip: '10.0.0.5', boot: 'chain', chain: 'http://10.0.0.1/kiosk.ipxe' },
    });
  });

  it('iPXE handed its own chain file again is called a boot loop, not turned into a script', () => {
    const conf = ['dhcp-range=10.0.0.10,10.0.0.20,255.255.255.0', 'dhcp-match=set:ipxe,175', 'dhcp-boot=undionly.kpxe'].join('\n');
    const r = importDnsmasq(conf, 'x.conf');
    expect(parse(r.yaml).boot).toEqual({ bios: 'undionly.kpxe' });
    expect(warnedAt(r.warnings, 3, /boot loop/)).toBe(true);
  });
});

describe('importDnsmasq robustness', () => {
  it('old syntax: bare network-id in dhcp-range and dhcp-option, net:# negation', () => {
    const conf = [
      'dhcp-range=lan,192.168.1.100,192.168.1.200,255.255.255.0,12h',
      'dhcp-option=lan,3,192.168.1.1',
      'dhcp-option=vendor:PXEClient,6,2b',
      'dhcp-match=gpxe,175',
      'dhcp-boot=net:#gpxe,undionly.kpxe',
      'dhcp-boot=net:gpxe,http://192.168.1.1/boot.ipxe',
    ].join('\n');
    const r = importDnsmasq(conf, 'old.conf');
    const cfg = parse(r.yaml);
    expect(cfg.dhcp.subnets).toEqual([{ subnet: '192.168.1.0/24', range: '192.168.1.100-192.168.1.200', lease: '12h', router: '192.168.1.1' }]);
    expect(cfg.boot).toEqual({ bios: 'undionly.kpxe', script: 'http://192.168.1.1/boot.ipxe' });
    expect(r.warnings.filter((w) => w.line > 0 && w.line !== 5)).toEqual([]);
  });

  it('never throws and always emits parseable YAML on mangled input', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const lines = ['ipxe-chainload.conf', 'ltsp.conf', 'netbootxyz-proxy.conf', 'odds.conf'].flatMap((f) =>
      readFileSync(fixture(f), 'utf8').split('\n'),
    );
    const junk = ['=', ',,,', 'dhcp-range=', 'dhcp-host=,,', 'tag-if=set:', 'dhcp-boot=tag:', '"', 'dhcp-match=set:x', 'pxe-service=,', '\u0000'];
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
