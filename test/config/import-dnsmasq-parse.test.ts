/** Stages 1 and 2 of `lanboot import dnsmasq`: reading lines, and included files spliced in place. */
import { describe, expect, it } from 'vitest';
import { parseDnsmasq } from '../../src/config/import/dnsmasq/parse.js';
import { expandIncludes, type Where } from '../../src/config/import/dnsmasq/includes.js';
import type { ImportWarning } from '../../src/config/import/types.js';

describe('parse', () => {
  it('strips comments only outside quotes and after whitespace, splits at commas outside quotes', () => {
    const d = parseDnsmasq('# c\npxe-service=X86PC,"a, #b",file # note\ndhcp-boot=a#b\n  --enable-tftp\n');
    expect(d).toEqual([
      { line: 2, key: 'pxe-service', value: 'X86PC,"a, #b",file', args: ['X86PC', 'a, #b', 'file'] },
      { line: 3, key: 'dhcp-boot', value: 'a#b', args: ['a#b'] },
      { line: 4, key: 'enable-tftp', args: [] },
    ]);
  });
  it('keeps the spaces dnsmasq keeps inside quotes ("Raspberry Pi Boot   ")', () => {
    expect(parseDnsmasq('pxe-service=tag:rpi,X86PC,"Raspberry Pi Boot   ",unused')[0]!.args[2]).toBe('Raspberry Pi Boot   ');
  });
});

describe('includes', () => {
  const files: Record<string, string> = {
    '/etc/dnsmasq.conf': 'interface=lan0\nconf-dir=/etc/dnsmasq.d,*.conf\nconf-file=/etc/missing.conf\n',
    '/etc/dnsmasq.d/10-dhcp.conf': 'dhcp-range=10.9.0.100,10.9.0.150,12h\ndhcp-hostsfile=/etc/hosts.dhcp\n',
    '/etc/dnsmasq.d/20-boot.conf': 'dhcp-boot=undionly.kpxe\nconf-file=/etc/dnsmasq.d/20-boot.conf\n',
    '/etc/dnsmasq.d/30-old.conf.bak': 'dhcp-range=10.99.0.1,10.99.0.2\n',
    '/etc/dnsmasq.d/.hidden.conf': 'dhcp-range=10.98.0.1,10.98.0.2\n',
    '/etc/hosts.dhcp': '52:54:00:09:00:01,pc1,10.9.0.11\n',
  };
  const io = {
    read: (f: string) => {
      if (!(f in files)) throw new Error('ENOENT');
      return files[f]!;
    },
    list: (d: string) => Object.keys(files).filter((f) => f.startsWith(d + '/')).map((f) => f.slice(d.length + 1)),
  };
  it('splices conf-dir (sorted, filtered), conf-file and dhcp-hostsfile in place; positions map back to file:line', () => {
    const text = files['/etc/dnsmasq.conf']!;
    const warnings: ImportWarning[] = [];
    const where: Where = new Map();
    const d = expandIncludes(parseDnsmasq(text), '/etc/dnsmasq.conf', io, where, warnings, { pos: 100 });
    expect(d.map((x) => x.key)).toEqual(['interface', 'dhcp-range', 'dhcp-host', 'dhcp-boot']);
    expect(d[2]).toMatchObject({ key: 'dhcp-host', args: ['52:54:00:09:00:01', 'pc1', '10.9.0.11'] });
    expect(where.get(d[3]!.line)).toEqual({ file: '/etc/dnsmasq.d/20-boot.conf', line: 1 });
    expect(warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/20-boot\.conf includes itself/),
      expect.stringMatching(/cannot read \/etc\/missing\.conf/),
    ]);
  });
});
