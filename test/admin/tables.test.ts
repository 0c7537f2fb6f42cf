import { describe, expect, it } from 'vitest';
import type { HostConfig } from '../../src/config/types.js';
import { formatExpiry, formatHosts, formatLeases, hostRows, Progress, table } from '../../src/admin/tables.js';

const NOW = 1_700_000_000_000;

describe('tables', () => {
  it('aligns columns, right-aligns numbers, cuts long cells, no trailing spaces', () => {
    const t = table(
      [
        { a: 'x', n: 5, s: 'short' },
        { a: 'longer', n: 1234, s: 'a very long value that is cut' },
      ],
      [
        { header: 'NAME', get: (r) => r.a },
        { header: 'N', get: (r) => r.n, align: 'right' },
        { header: 'TEXT', get: (r) => r.s, max: 10 },
      ],
    );
    expect(t).toBe(['NAME       N  TEXT', 'x          5  short', 'longer  1234  a very lo…', ''].join('\n'));
  });

  it('leases: sorted by address numerically, expiry relative to now', () => {
    const out = formatLeases(
      [
        { mac: '52:54:00:00:00:02', ip: '10.0.0.100', state: 'bound', expires: NOW + 12 * 3600_000 - 60_000, hostname: 'pc02' },
        { mac: '52:54:00:00:00:01', ip: '10.0.0.9', state: 'expired', expires: NOW - 125_000 },
        { mac: '52:54:00:00:00:03', ip: '10.0.0.20', state: 'static' },
      ],
      NOW,
    ).split('\n');
    expect(out[0]).toMatch(/^ADDRESS\s+MAC\s+NAME\s+STATE\s+EXPIRES$/);
    expect(out[1]).toMatch(/^10\.0\.0\.9\s+52:54:00:00:00:01\s+-\s+expired\s+expired 2m 5s ago$/);
    expect(out[2]).toMatch(/^10\.0\.0\.20\s.*static\s+never$/);
    expect(out[3]).toMatch(/^10\.0\.0\.100\s.*pc02\s+bound\s+in 11h 59m$/);
    expect(formatLeases([])).toBe('no leases\n');
    expect(formatExpiry(NOW + 30_000, NOW)).toBe('in 30s');
  });

  it('hosts: config order, boot detail, the address a dynamic host holds now', () => {
    const h = (x: Partial<HostConfig>): HostConfig => ({ mac: '', prefix_bits: 48, name: '', boot: 'script', line: 1, ...x }) as HostConfig;
    const rows = hostRows(
      [
        h({ mac: '52:54:00:77:00:10', name: 'pc01', ip: '10.77.0.10', boot: 'iscsi' }),
        h({ mac: '52:54:00:77:00:11', name: 'pc02', boot: 'chain', chain: 'http://x/y.ipxe' }),
        h({ mac: '02:00:00:00:00:00', prefix_bits: 24, name: 'isa', boot: 'rpl', rpl: { files: [{ path: 'ipxe.pxe', offset: 0, load: 0x7c00 }], execute: 0x7c00 } }),
      ],
      [{ mac: '52:54:00:77:00:11', ip: '10.77.0.150', state: 'bound', expires: NOW + 60_000 }],
    );
    const out = formatHosts(rows, NOW).split('\n');
    expect(out[0]).toMatch(/^MAC\s+NAME\s+ADDRESS\s+BOOT\s+DETAIL\s+LEASE$/);
    expect(out[1]).toMatch(/^52:54:00:77:00:10\s+pc01\s+10\.77\.0\.10\s+iscsi\s+-\s+-$/);
    expect(out[2]).toMatch(/^52:54:00:77:00:11\s+pc02\s+\(10\.77\.0\.150\)\s+chain\s+http:\/\/x\/y\.ipxe\s+bound, in 1m 0s$/);
    expect(out[3]).toMatch(/^02:00:00:00:00:00\/24\s+isa\s+-\s+rpl\s+ipxe\.pxe/);
  });
});

describe('Progress', () => {
  it('draws on a TTY, throttled, and clears its line when done', () => {
    let out = '';
    const p = new Progress('checking hosts', 200, { stream: { isTTY: true, columns: 80, write: (s: string) => (out += s) }, intervalMs: 0 });
    p.update(50);
    expect(out).toBe('\r\x1b[2Kchecking hosts [#####...............] 50/200 25%');
    p.tick(150);
    expect(out).toContain('200/200 100%');
    p.finish('checked 200 hosts');
    expect(out.endsWith('\r\x1b[2Kchecked 200 hosts\n')).toBe(true);
  });

  it('writes nothing at all when stderr is not a terminal', () => {
    let out = '';
    const p = new Progress('importing', 10, { stream: { isTTY: false, write: (s: string) => (out += s) }, intervalMs: 0 });
    for (let i = 0; i < 10; i++) p.tick();
    p.finish('done');
    expect(out).toBe('');
    expect(p.enabled).toBe(false);
  });
});
