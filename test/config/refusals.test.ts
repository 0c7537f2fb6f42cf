/**
 * Operator mistakes the loader must refuse with a position and a fix
 * (issue 9: duplicate MACs, alias bombs, system directories as roots).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { problems } from './problems.js';

describe('duplicate MACs written differently', () => {
  it('refuses the second spelling with both positions and the one spelling to keep', () => {
    const yaml = [
      'hosts:',
      '  52:54:00:AA:00:10: { name: pc01 }',
      '  52:54:00:77:00:11: { name: pc02 }',
      '  52-54-00-aa-00-10: { name: pc03 }',
      '  52:54:00:aa:00:10: { name: pc04 }',
      '',
    ].join('\n');
    const p = problems(yaml);
    expect(p).toHaveLength(2);
    expect(p[0]).toBe(
      'lanboot.yaml:4:3: hosts.52-54-00-aa-00-10: the same MAC as hosts.52:54:00:AA:00:10 at lanboot.yaml:2:3 ' +
        '(case and separators do not matter); keep one entry, written 52:54:00:aa:00:10',
    );
    expect(p[1]).toMatch(/^lanboot\.yaml:5:3: hosts\.52:54:00:aa:00:10: the same MAC as hosts\.52:54:00:AA:00:10 at lanboot\.yaml:2:3/);
  });

  it('treats prefix entries the same way, and different prefix lengths as different entries', () => {
    const p = problems('hosts:\n  00:60:8c:00:00:00/24: { boot: local }\n  00-60-8C-00-00-00/24: { boot: rpl }\n');
    expect(p[0]).toMatch(/^lanboot\.yaml:3:3: hosts\.00-60-8C-00-00-00\/24: the same MAC as hosts\.00:60:8c:00:00:00\/24 at lanboot\.yaml:2:3 .*written 00:60:8c:00:00:00\/24$/);
    const c = parseConfig('hosts:\n  00:60:8c:00:00:00/24: { boot: local }\n  00:60:8c:00:00:00/16: { boot: local }\n', 'x.yaml');
    expect(c.hosts).toHaveLength(2);
  });
});

describe('YAML alias bomb', () => {
  it('is refused with file:line:col, not a stack trace', () => {
    const lines = ['x0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) lines.push(`x${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    const p = problems(lines.join('\n') + '\n');
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^lanboot\.yaml:\d+:\d+: x\d: alias(es)? \*a\d expands? to too many nodes \(a YAML alias bomb\?\); write the values out instead/);
  });
});

describe('system directories as roots', () => {
  it('refuses tftp.root / (it contains /etc) with its position and what to write', () => {
    const p = problems('tftp:\n  root: /\n');
    expect(p).toEqual([
      'lanboot.yaml:2:9: tftp.root: / contains /etc: files such as /etc/shadow would be served; ' +
        'write a directory of its own, e.g. /srv/tftp (or set tftp.allow_system_root: true to serve it anyway)',
    ]);
  });

  it('refuses /etc, roots inside /sys, a path that only spells / and a symlink to /; the HTTP root and upload dir too', () => {
    expect(problems('tftp: { root: /etc }\n')[0]).toMatch(/^lanboot\.yaml:1:15: tftp\.root: \/etc is \/etc:/);
    expect(problems('tftp: { root: /sys/kernel }\n')[0]).toMatch(/tftp\.root: \/sys\/kernel is inside \/sys:/);
    expect(problems('tftp: { root: /srv/../ }\n')[0]).toMatch(/tftp\.root: \/ contains \/etc/);
    expect(problems('tftp: { root: /var }\n')[0]).toMatch(/tftp\.root: \/var contains \/var\/lib/);
    const dir = mkdtempSync(join(tmpdir(), 'lb-root-'));
    try {
      symlinkSync('/', join(dir, 'tftp'));
      expect(problems(`tftp: { root: ${dir}/tftp }\n`)[0]).toMatch(new RegExp(`tftp\\.root: ${dir}/tftp \\(really /\\) contains /etc`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(problems('http: { root: / }\n')[0]).toMatch(/^lanboot\.yaml:1:15: http\.root: \/ contains \/etc: .*set http\.allow_system_root: true/);
    expect(problems('tftp: { root: /srv/tftp, upload_dir: /etc }\n')[0]).toMatch(/tftp\.upload_dir: \/etc is \/etc/);
  });

  it('accepts ordinary roots, and a system root only with the explicit override', () => {
    expect(parseConfig('tftp: { root: /srv/tftp }\nhttp: {}\n', 'x.yaml').http?.root).toBe('/srv/tftp');
    expect(parseConfig('tftp: { root: /var/lib/tftpboot }\n', 'x.yaml').tftp?.root).toBe('/var/lib/tftpboot');
    expect(parseConfig('tftp: { root: /usr/lib/ipxe }\n', 'x.yaml').tftp?.root).toBe('/usr/lib/ipxe');
    const c = parseConfig('tftp: { root: /, allow_system_root: true }\nhttp: {}\n', 'x.yaml');
    expect(c.tftp?.root).toBe('/');
    expect(c.http?.root).toBe('/'); // the HTTP root inherits the TFTP root and its override
    expect(c.tftp).not.toHaveProperty('allow_system_root'); // decided at load; services never see it
  });
});

describe('a key written twice', () => {
  it('is refused at the second one with the first one\'s position', () => {
    const p = problems('tftp:\n  root: /srv/tftp\n  port: 69\n  root: /srv/other\n');
    expect(p).toEqual(['lanboot.yaml:4:3: tftp.root: written twice in the same map (first at lanboot.yaml:2:3); keep one']);
    expect(problems('hosts:\n  52:54:00:00:00:01: {}\n  52:54:00:00:00:01: { name: b }\n')[0]).toMatch(/^lanboot\.yaml:3:3: hosts\.52:54:00:00:00:01: written twice .*first at lanboot\.yaml:2:3/);
  });
});

describe('uploads where machines boot from', () => {
  it('refuses a tftp.upload_dir inside tftp.root or http.root, at its position, and accepts one of its own', () => {
    const p = problems('tftp: { root: /srv/tftp, upload_dir: /srv/tftp/uploads }\n');
    expect(p).toEqual([
      'lanboot.yaml:1:38: tftp.upload_dir: /srv/tftp/uploads lies in tftp.root (/srv/tftp): any host could upload what others then boot; give uploads a directory of their own, e.g. /srv/tftp-uploads',
    ]);
    expect(problems('tftp: { root: /srv/tftp, upload_dir: /srv/www/up }\nhttp: { root: /srv/www }\n')[0]).toMatch(/lies in http\.root \(\/srv\/www\)/);
    expect(problems('tftp: { root: /srv/tftp, upload_dir: /srv/tftp }\n')).toHaveLength(1);
    expect(parseConfig('tftp: { root: /srv/tftp, upload_dir: /srv/tftp-uploads }\n', 'lanboot.yaml').tftp!.upload_dir).toBe('/srv/tftp-uploads');
  });
});
