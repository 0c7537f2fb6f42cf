/**
 * arp_probe: an address nobody was ever given, but which a host on the link
 * already uses (it answers ARP), is quarantined and not offered.
 *   C: c0 holds 10.77.0.100 (the first pool address) statically; udhcpc on c0
 *   must get 10.77.0.101.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, startServer, clientScript, type ServerHandle } from './netns.js';

const lab = new Lab();
let dir: string;
let server: ServerHandle;
let S: string, C: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lb-dhcparp-'));
  S = lab.ns('s');
  C = lab.ns('c');
  lab.link(S, 's0', '10.77.0.1/24', C, 'c0', '10.77.0.100/24');
  server = await startServer(
    lab, S, dir,
    `interfaces: [s0]\nstate_dir: ${dir}\ndhcp:\n  mode: authoritative\n  address: 0.0.0.0\n  arp_probe: true\n  subnets:\n` +
      `    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.110, router: 10.77.0.1, lease: 1h }\n` +
      `boot: { bios: undionly.kpxe, uefi: snponly.efi, script: "http://{server}/boot/{mac}.ipxe" }\n`,
  );
}, 60_000);

afterAll(async () => {
  await server?.stop().catch(() => undefined);
  lab.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('ARP probe before offering a never-used address', () => {
  it('skips an address that answers ARP, quarantines it, offers the next', async () => {
    const out = join(dir, 'udhcpc.out');
    clientScript(join(dir, 'script.sh'), out);
    lab.exec(C, `timeout 20 busybox udhcpc -i c0 -n -q -f -t 5 -T 2 -s ${join(dir, 'script.sh')}`, { timeout: 30_000 });
    expect(readFileSync(out, 'utf8')).toMatch(/arg=bound .*ip=10\.77\.0\.101 /);
    const c = await server.waitFor((l) => l.event === 'dhcp.conflict');
    expect(c.ip).toBe('10.77.0.100');
  }, 60_000);
});
