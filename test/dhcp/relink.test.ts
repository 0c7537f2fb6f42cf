/**
 * The served interface disappears and comes back (a router restarting its
 * network): the packet socket reports ENODEV, the transport reopens it, and
 * clients get leases again without restarting lanboot.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, startServer, clientScript } from './netns.js';

const lab = new Lab();
const dir = mkdtempSync(join(tmpdir(), 'lb-dhcprelink-'));
afterAll(() => {
  lab.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('interface recreated under a running server', () => {
  it('reopens its packet socket and serves again', async () => {
    const S = lab.ns('s');
    const C = lab.ns('c');
    lab.link(S, 's0', '10.77.0.1/24', C, 'c0', '');
    const server = await startServer(
      lab, S, dir,
      `interfaces: [s0]\nstate_dir: ${dir}\ndhcp:\n  mode: authoritative\n  address: 0.0.0.0\n  subnets:\n` +
        `    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.110, router: 10.77.0.1, lease: 1h }\n` +
        `boot: { bios: undionly.kpxe, uefi: snponly.efi, script: "http://{server}/boot/{mac}.ipxe" }\n`,
    );
    const script = join(dir, 'script.sh');
    const lease = (n: number) => {
      const out = join(dir, `out${n}`);
      writeFileSync(out, '');
      clientScript(script, out);
      lab.exec(C, `timeout 20 busybox udhcpc -i c0 -n -q -f -t 8 -T 2 -s ${script}`, { timeout: 30_000, allowFail: true });
      return readFileSync(out, 'utf8');
    };
    expect(lease(1)).toMatch(/arg=bound .*ip=10\.77\.0\.1\d\d /);
    lab.exec(S, 'ip link del s0');
    await server.waitFor((l) => l.event === 'dhcp.link_error' && l.code === 'ENODEV');
    lab.link(S, 's0', '10.77.0.1/24', C, 'c0', '');
    await server.waitFor((l) => l.event === 'dhcp.link_reopened', 20_000);
    expect(lease(2)).toMatch(/arg=bound .*ip=10\.77\.0\.1\d\d /);
    await server.stop();
  }, 90_000);
});
