import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { BootPlan } from '../../src/plan/index.js';
import { startDhcp, type DhcpRunning } from '../../src/dhcp/run.js';
import { Telemetry } from '../../src/telemetry.js';
import { silent } from '../../src/log.js';
import { macToChaddr, type DhcpMessage } from '../../src/codec/dhcp.js';

let dir: string;
let running: DhcpRunning | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lb-dhcprun-'));
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  rmSync(dir, { recursive: true, force: true });
});

// Loopback and unprivileged ports only.
const yaml = (extra: string) => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  return `
state_dir: ${dir}
dhcp:
  address: 127.0.0.1
  port: ${port}
  proxy_port: ${port + 1}
${extra}
  subnets:
    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.110, lease: 1h }
boot: { bios: undionly.kpxe, uefi: snponly.efi, script: "http://{server}/boot/{mac}.ipxe" }
`;
};

async function start(extra = '') {
  const cfg = parseConfig(yaml(extra), join(dir, 'lanboot.yaml'));
  const plan = new BootPlan(cfg);
  running = await startDhcp(cfg, { plan: () => plan, log: silent, telemetry: new Telemetry(), noSync: true });
  return { cfg, running };
}

describe('startDhcp', () => {
  it('dhcp.decline_hold reaches the lease store (default 10 minutes)', async () => {
    const a = await start();
    expect(a.cfg.dhcp!.decline_hold).toBe(600);
    expect(a.running.leases!.opts.declineHoldMs).toBe(600_000);
    await a.running.stop();
    running = undefined;
    const b = await start('  decline_hold: 30s');
    expect(b.cfg.dhcp!.decline_hold).toBe(30);
    expect(b.running.leases!.opts.declineHoldMs).toBe(30_000);
  });

  it('factsFor(ip) answers what the client at that address told the DHCP service', async () => {
    const { running: r } = await start();
    const req: DhcpMessage = {
      op: 1, htype: 1, hlen: 6, hops: 0, xid: 7, secs: 0, flags: 0x8000, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0',
      giaddr: '0.0.0.0', chaddr: macToChaddr('52:54:00:00:04:01'), sname: '', file: '',
      options: new Map([[53, Buffer.from([1])], [60, Buffer.from('PXEClient:Arch:00007:UNDI:003016')], [93, Buffer.from([0, 7])]]),
    };
    const offer = await r.service.handle(req, { via: 'udp', localAddress: '127.0.0.1', localPort: r.service.config.port, srcAddress: '0.0.0.0', srcPort: 68 });
    const yi = offer!.message.yiaddr;
    expect(yi).toMatch(/^10\.77\.0\.1\d\d$/);
    expect(r.factsFor(yi)).toMatchObject({ mac: '52:54:00:00:04:01', arch: 7 });
    expect(r.factsFor('10.77.0.99')).toBeUndefined();
  });
});
