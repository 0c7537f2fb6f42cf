/**
 * Never offer an address in use (issue 10, item 4), with the default config
 * (no arp_probe key, no interfaces key):
 *  - the server's own address lies in the pool: it is never offered;
 *  - an address nobody was given but a host on the link already uses (it
 *    answers ARP) is probed before its first offer, quarantined and skipped.
 *   S: s0 10.77.0.100/24 (pool .100-.110)  --  C: c0 holds 10.77.0.101 statically;
 *   udhcpc on c0 must get 10.77.0.102.
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
  lab.link(S, 's0', '10.77.0.100/24', C, 'c0', '10.77.0.101/24');
  server = await startServer(
    lab, S, dir,
    `state_dir: ${dir}\ndhcp:\n  subnets:\n` +
      `    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.110, router: 10.77.0.1, lease: 1h }\n` +
      `boot: { bios: undionly.kpxe, uefi: snponly.efi, script: "http://{server}/boot/{mac}.ipxe" }\n`,
  );
}, 60_000);

afterAll(async () => {
  await server?.stop().catch(() => undefined);
  lab.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('an address in use is never offered, by default', () => {
  it("skips the server's own address and an address that answers ARP; offers the next", async () => {
    const out = join(dir, 'udhcpc.out');
    clientScript(join(dir, 'script.sh'), out);
    lab.exec(C, `timeout 20 busybox udhcpc -i c0 -n -q -f -t 5 -T 2 -s ${join(dir, 'script.sh')}`, { timeout: 30_000 });
    expect(readFileSync(out, 'utf8')).toMatch(/arg=bound .*ip=10\.77\.0\.102 /);
    const c = await server.waitFor((l) => l.event === 'dhcp.conflict');
    expect(c.ip).toBe('10.77.0.101');
    const offers = server.lines.filter((l) => l.event === 'dhcp.offer').map((l) => l.ip);
    expect(offers).not.toContain('10.77.0.100');
    expect(offers).not.toContain('10.77.0.101');
  }, 60_000);

  it('a client asking for the server\'s address (INIT-REBOOT) is refused', async () => {
    const out = join(dir, 'udhcpc2.out');
    clientScript(join(dir, 'script2.sh'), out);
    // udhcpc -r: request this address first; the server NAKs it and the client falls back to DISCOVER.
    lab.exec(C, `timeout 20 busybox udhcpc -i c0 -n -q -f -t 5 -T 2 -r 10.77.0.100 -s ${join(dir, 'script2.sh')}`, { timeout: 30_000 });
    expect(readFileSync(out, 'utf8')).not.toMatch(/ip=10\.77\.0\.100 /);
    expect(server.lines.some((l) => (l.event === 'dhcp.ack' || l.event === 'dhcp.offer') && l.ip === '10.77.0.100')).toBe(false);
  }, 60_000);
});
