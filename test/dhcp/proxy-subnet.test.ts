/**
 * A proxy subnet beside a leased one (LTSP's layout), and the PXE boot
 * server's answer to a menu choice (43.71) on port 4011.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { BootPlan } from '../../src/plan/index.js';
import { LeaseStore } from '../../src/leases/store.js';
import { DhcpService, type Ingress } from '../../src/dhcp/service.js';
import { Telemetry } from '../../src/telemetry.js';
import { silent } from '../../src/log.js';
import { macToChaddr, type DhcpMessage } from '../../src/codec/dhcp.js';
import { decodeSuboptions, u8 } from '../../src/codec/dhcp-options.js';

const YAML = `
interfaces: [lan0, lan1]
dhcp:
  subnets:
    - { subnet: 192.168.67.0/24, range: 192.168.67.20-192.168.67.30, interface: lan0 }
    - { subnet: 192.168.0.0/24, proxy: true, interface: lan1 }
boot:
  bios: ltsp/undionly.kpxe
  uefi: ltsp/snponly.efi
  menu:
    - { text: undionly.kpxe, arch: [0], file: ltsp/undionly.kpxe, type: 32768, proxy: true }
`;

let dir: string;
let store: LeaseStore;
let svc: DhcpService;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lb-pxsub-'));
  const cfg = parseConfig(YAML, join(dir, 'lanboot.yaml'));
  store = new LeaseStore({ file: join(dir, 'leases'), subnets: cfg.dhcp!.subnets, reserved: [] });
  await store.open();
  svc = new DhcpService({ config: cfg.dhcp!, plan: new BootPlan(cfg), leases: store, telemetry: new Telemetry(), log: silent });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const ingress = (iface: string, addr: string, localPort = 67): Ingress => ({
  via: 'packet', iface, localAddress: addr, addresses: [addr], localPort, srcAddress: '0.0.0.0', srcPort: 68, broadcast: localPort === 67,
});
const PXE: Array<[number, Buffer]> = [[60, Buffer.from('PXEClient:Arch:00000:UNDI:002001')], [93, Buffer.from([0, 0])], [55, Buffer.from([43, 60, 66, 67])]];
const msg = (type: number, options: Array<[number, Buffer]>, over: Partial<DhcpMessage> = {}): DhcpMessage => ({
  op: 1, htype: 1, hlen: 6, hops: 0, xid: 7, secs: 0, flags: 0x8000, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0',
  giaddr: '0.0.0.0', chaddr: macToChaddr('52:54:00:00:00:01'), sname: '', file: '', options: new Map([[53, u8(type)], ...options]), ...over,
});

describe('a proxy subnet beside a leased one', () => {
  it('the leased subnet offers an address; the proxy subnet only boot information with its menu', async () => {
    const leased = await svc.handle(msg(1, PXE), ingress('lan0', '192.168.67.1'));
    expect(leased?.message.yiaddr).toMatch(/^192\.168\.67\.(2\d|30)$/);
    const proxied = await svc.handle(msg(1, PXE), ingress('lan1', '192.168.0.2'));
    expect(proxied?.message.yiaddr).toBe('0.0.0.0');
    expect(proxied?.message.options.get(53)).toEqual(u8(2));
    expect(decodeSuboptions(proxied!.message.options.get(43)!, 43).get(9)).toEqual(Buffer.from([0x80, 0, 13, ...Buffer.from('undionly.kpxe')]));
    // A non-PXE client gets nothing from the proxy subnet.
    expect(await svc.handle(msg(1, []), ingress('lan1', '192.168.0.2'))).toBeNull();
  });
  it('port 4011: a menu choice (43.71) is answered with its file, 71 echoed, the client address in yiaddr', async () => {
    const req = msg(3, [...PXE, [43, Buffer.from([71, 4, 0x80, 0, 0, 0, 255])]], { ciaddr: '192.168.0.50', flags: 0 });
    const r = await svc.handle(req, { ...ingress('lan1', '192.168.0.2', 4011), srcAddress: '192.168.0.50' });
    expect(r?.message.options.get(53)).toEqual(u8(5));
    expect(r?.message.file).toBe('ltsp/undionly.kpxe');
    expect(r?.message.yiaddr).toBe('192.168.0.50');
    expect(decodeSuboptions(r!.message.options.get(43)!, 43).get(71)).toEqual(Buffer.from([0x80, 0, 0, 0]));
    expect(r?.to).toMatchObject({ kind: 'unicast', address: '192.168.0.50' });
  });
});
