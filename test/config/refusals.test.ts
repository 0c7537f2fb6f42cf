/**
 * Operator mistakes the loader must refuse with a position and a fix
 * (issue 9: duplicate MACs, alias bombs, system directories as roots).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';

function problems(text: string): string[] {
  try {
    parseConfig(text, 'lanboot.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n');
    throw e;
  }
  throw new Error('config was accepted');
}

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
