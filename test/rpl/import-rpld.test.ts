import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { importRpld } from '../../src/config/import/rpld.js';
import { parseConfig } from '../../src/config/load.js';

const dir = fileURLToPath(new URL('../fixtures/rpl/rpld/', import.meta.url));
const imp = (name: string) => importRpld(readFileSync(dir + name, 'utf8'), name);

describe('lanboot import rpld', () => {
  it('ipxe.org appnote: the all-zero /6 catch-all becomes /0, raw image at 0x2000', () => {
    const r = imp('ipxe-appnote.conf');
    const y = parse(r.yaml);
    expect(y.hosts).toEqual({
      '00:00:00:00:00:00/0': { rpl: { files: [{ path: '/var/rpl/ipxe.raw', load: 0x2000 }], execute: 0x2000 } },
    });
    expect(r.yaml).toContain('load: 0x2000');
    expect(r.warnings.map((w) => w.line)).toEqual([0, 5]); // the ethernet line, after the 3-line source header
    expect(r.warnings[1]!.message).toMatch(/catch-all/);
    const c = parseConfig(r.yaml, 'x.yaml');
    expect(c.hosts[0]).toMatchObject({ mac: '00:00:00:00:00:00', prefix_bits: 0 });
    expect(c.hosts[0]!.rpl).toEqual({ files: [{ path: '/var/rpl/ipxe.raw', offset: 0, load: 0x2000 }], execute: 0x2000 });
    expect(c.rpl).not.toBeNull();
  });

  it('etherboot wiki: relative path is flagged, 0x7c00/0x7c00', () => {
    const r = imp('etherboot-wiki.conf');
    const c = parseConfig(r.yaml, 'x.yaml');
    expect(c.hosts[0]!.rpl).toEqual({ files: [{ path: 'gpxe.pxe', offset: 0, load: 0x7c00 }], execute: 0x7c00 });
    expect(r.warnings.some((w) => w.line === 6 && /relative/.test(w.message))).toBe(true);
  });

  it('DRBL FAQ: one exact MAC, load 0x1000, execute 0x1006, only the interface note', () => {
    const r = imp('drbl-faq.conf');
    expect(r.warnings.map((w) => w.line)).toEqual([0]);
    const c = parseConfig(r.yaml, 'x.yaml');
    expect(c.hosts).toHaveLength(1);
    expect(c.hosts[0]).toMatchObject({ mac: '44:4d:50:00:01:8e', prefix_bits: 48 });
    expect(c.hosts[0]!.rpl).toEqual({ files: [{ path: '/tftpboot/nbi_img/rtl8139.zrom', offset: 0, load: 0x1000 }], execute: 0x1006 });
  });

  it('edge cases: several files, masks in bytes -> bits, sizes, pacing, and a warning for each thing it cannot carry', () => {
    const r = imp('odds.conf');
    const y = parse(r.yaml);
    expect(Object.keys(y.hosts)).toEqual(['00:60:6e:33:4f:2c', '00:a0:c9:01:02:03', '00:50:32:33:00:00/32']);
    expect(y.hosts['00:60:6e:33:4f:2c'].rpl).toEqual({
      files: [
        { path: '/rplboot/fish', offset: 512, length: 4096, load: 0x1000 },
        { path: '/rplboot/fish.dat', load: 0x9000 },
      ],
      execute: 0x92000,
      frame_size: 576,
      block_size: 528,
      pacing_us: 2000,
    });
    const msgs = r.warnings.map((w) => `${w.line}: ${w.message}`).join('\n');
    expect(msgs).toMatch(/^9: blocksize 530.*528/m);
    expect(msgs).toMatch(/^10: pacing 2000/m);
    expect(msgs).toMatch(/^11: nospew/m);
    expect(msgs).toMatch(/^15: linux: not supported/m);
    expect(msgs).toMatch(/^17: unknown HOST directive "colour"/m);
    expect(msgs).toMatch(/^19: HOST 00:60:6e:33:4f:2c repeats/m);
    expect(msgs).toMatch(/^24: HOST 00:11:22:33:44:55 has no usable FILE/m);
    expect(msgs).toMatch(/^26: FILE without path/m);
    expect(msgs).toMatch(/^30: ethernet: expected a MAC/m);
    expect(msgs).toMatch(/^35: missing ";" after load/m);
    expect(msgs).toMatch(/^33: .*no execute/m);
    expect(msgs).toMatch(/^36: missing ";" after the "}" closing HOST/m);
    expect(msgs).toMatch(/^0: rpld's interface/m);
    // warnings are listed in the YAML header too
    expect(r.yaml).toMatch(/# Not carried over/);
    const c = parseConfig(r.yaml, 'x.yaml');
    const prefix = c.hosts.find((h) => h.prefix_bits === 32)!;
    expect(prefix.mac).toBe('00:50:32:33:00:00');
    expect(c.hosts.find((h) => h.mac === '00:a0:c9:01:02:03')!.rpl!.execute).toBe(0x7c00);
  });

  it('pulls settings every host shares into rpl: defaults', () => {
    const text = `HOST { ethernet = 02:00:00:00:00:01; FILE { path = "/a"; load = 0x7c00; }; execute = 0x7c00; framesize = 1000; pacing = 300; };
HOST { ethernet = 02:00:00:00:00:02; FILE { path = "/b"; load = 0x7c00; }; execute = 0x7c00; framesize = 1000; pacing = 500; };`;
    const r = importRpld(text, 't.conf');
    const y = parse(r.yaml);
    expect(y.rpl).toEqual({ interfaces: ['eth0'], frame_size: 1000 });
    expect(y.hosts['02:00:00:00:00:01'].rpl.pacing_us).toBe(300);
    expect(y.hosts['02:00:00:00:00:02'].rpl.pacing_us).toBe(500);
    const c = parseConfig(r.yaml, 'x.yaml');
    expect(c.rpl!.frame_size).toBe(1000);
  });

  it('an empty or garbage file gives an empty but valid config and warnings', () => {
    for (const text of ['', 'garbage { x; };', '/* unterminated', 'HOST {']) {
      const r = importRpld(text, 'g.conf');
      expect(r.warnings.length).toBeGreaterThan(0);
      expect(() => parseConfig(r.yaml, 'x.yaml')).not.toThrow();
    }
  });
});
