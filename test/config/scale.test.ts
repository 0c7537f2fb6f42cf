/**
 * 20,000 hosts (issue 9.15). These are complexity checks, not speed targets
 * (those live in bench/): the bounds are 4-10x what the linear code takes on a
 * loaded 2-core machine, while the quadratic code took 20 s to load and 18 s
 * for the lookups below.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { BootPlan } from '../../src/plan/index.js';
import type { Config, HostConfig } from '../../src/config/types.js';

const hex = (n: number) => n.toString(16).padStart(2, '0');
const macOf = (i: number) => `52:54:00:${hex((i >> 16) & 255)}:${hex((i >> 8) & 255)}:${hex(i & 255)}`;

describe('20,000 hosts', () => {
  it('load in linear time', () => {
    const lines = ['dhcp:', '  subnets: [{ subnet: 10.0.0.0/16, range: 10.0.200.1-10.0.255.254, router: 10.0.0.1 }]', 'hosts:'];
    for (let i = 0; i < 20_000; i++) lines.push(`  ${macOf(i)}: { name: pc${i}, ip: 10.0.${2 + Math.floor(i / 254)}.${1 + (i % 254)} }`);
    const t0 = performance.now();
    const c = parseConfig(lines.join('\n') + '\n', 'big.yaml');
    const ms = performance.now() - t0;
    expect(c.hosts).toHaveLength(20_000);
    expect(c.hosts[19_999]).toMatchObject({ mac: macOf(19_999), line: 20_003 });
    expect(ms, `${Math.round(ms)} ms`).toBeLessThan(10_000);
  });

  it('the plan finds a host by MAC, MAC prefix, name and address without scanning every entry', () => {
    const hosts: HostConfig[] = [];
    for (let i = 0; i < 2000; i++) {
      hosts.push({ mac: `02:${hex(i >> 8)}:${hex(i & 255)}:00:00:00`, prefix_bits: 24 + (i % 8), name: `p${i}`, boot: 'script', line: i } as HostConfig);
    }
    for (let i = 0; i < 20_000; i++) hosts.push({ mac: macOf(i), prefix_bits: 48, name: `pc${i}`, ip: `10.1.${i >> 8}.${i & 255}`, boot: 'script', line: i } as HostConfig);
    hosts.push({ mac: '02:00:00:00:00:00', prefix_bits: 8, name: 'wide', boot: 'script', line: 0 } as HostConfig);
    const plan = new BootPlan({ hosts, boot: { script: 'http://{http}/boot/{name}.ipxe' } } as unknown as Config);
    const t0 = performance.now();
    let unknown = 0;
    for (let i = 0; i < 20_000; i++) if (!plan.host(`52:55:00:${hex(i >> 16)}:${hex((i >> 8) & 255)}:${hex(i & 255)}`)) unknown++;
    for (let i = 0; i < 2000; i++) expect(plan.host(`02:${hex(i >> 8)}:${hex(i & 255)}:00:00:01`)?.name).toBe(`p${i}`);
    for (let i = 0; i < 20_000; i += 7) {
      expect(plan.host(macOf(i))?.name).toBe(`pc${i}`);
      expect(plan.hostByIp(`10.1.${i >> 8}.${i & 255}`)?.mac).toBe(macOf(i));
      expect(plan.file(`boot/pc${i}.ipxe`)?.mac).toBe(macOf(i));
    }
    const ms = performance.now() - t0;
    expect(unknown).toBe(20_000);
    expect(plan.host('02:ff:ff:ff:ff:ff')?.name).toBe('wide'); // the longest prefix wins, the /8 catches the rest
    expect(ms, `${Math.round(ms)} ms`).toBeLessThan(3000);
  });
});
