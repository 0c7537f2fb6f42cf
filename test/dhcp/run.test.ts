import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { encodeFrame } from '../../src/leases/journal.js';
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

async function start(extra = '', log = silent) {
  const cfg = parseConfig(yaml(extra), join(dir, 'lanboot.yaml'));
  const plan = new BootPlan(cfg);
  running = await startDhcp(cfg, { plan: () => plan, log, telemetry: new Telemetry(), noSync: true });
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

  it('a damaged lease journal is reported at error with counts and kept aside; the leases after the damage load', async () => {
    const exp = Date.now() + 3_600_000;
    const frames = [100, 101, 102].map((n) => encodeFrame({ t: 'L', ip: `10.77.0.${n}`, key: `hw:01:5254000000${n.toString(16)}`, mac: `52:54:00:00:00:${n.toString(16)}`, exp }));
    frames[1]![12] ^= 0x10;
    writeFileSync(join(dir, 'leases.journal'), Buffer.concat(frames));
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) });
    const { running: r } = await start('', pino({ level: 'info' }, sink));
    expect(r.leases!.leaseAt('10.77.0.102')?.mac).toBe('52:54:00:00:00:66');
    const e = lines.find((l) => l.event === 'dhcp.journal_damaged');
    expect(e).toMatchObject({ level: 50, records: 2, regions: 1, skipped_bytes: frames[1]!.length });
    expect(readdirSync(dir).some((f) => f.startsWith('leases.journal.damaged-'))).toBe(true);
  });

  it('an offer that ran out leaves the leases table', async () => {
    const { running: r } = await start();
    const req: DhcpMessage = {
      op: 1, htype: 1, hlen: 6, hops: 0, xid: 9, secs: 0, flags: 0x8000, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0',
      giaddr: '0.0.0.0', chaddr: macToChaddr('52:54:00:00:04:02'), sname: '', file: '', options: new Map([[53, Buffer.from([1])]]),
    };
    await r.service.handle(req, { via: 'udp', localAddress: '127.0.0.1', localPort: r.service.config.port, srcAddress: '0.0.0.0', srcPort: 68 });
    expect(r.leaseViews().map((l) => l.state)).toEqual(['offered']);
    vi.useFakeTimers({ now: Date.now() + 31_000, toFake: ['Date'] });
    try {
      expect(r.leaseViews()).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });
});
