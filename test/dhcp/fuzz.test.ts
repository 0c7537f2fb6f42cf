/**
 * Fuzz: 100k random and mutated packets at the service in-process (decode,
 * state machine, plan, handlers, encode), then a few thousand over the wire at
 * a server in a namespace (packet socket and dgram paths), after which a real
 * client (udhcpc) still gets a lease from the same, still running, server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { BootPlan } from '../../src/plan/index.js';
import { LeaseStore } from '../../src/leases/store.js';
import { DhcpService, type Ingress } from '../../src/dhcp/service.js';
import { Telemetry } from '../../src/telemetry.js';
import { silent } from '../../src/log.js';
import { encode, DhcpEncodeError } from '../../src/codec/dhcp.js';
import { generator } from './fuzz-gen.js';
import { Lab, startServer, clientScript, FIXTURES } from './netns.js';

const dirs: string[] = [];
const lab = new Lab();
afterAll(() => {
  lab.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const YAML = (state: string, ifs: string) => `
server: 10.77.0.1
interfaces: [${ifs}]
state_dir: ${state}
log: { level: warn }
dhcp:
  mode: authoritative
  address: 0.0.0.0
  subnets:
    - { subnet: 10.77.0.0/16, range: 10.77.1.0-10.77.250.255, router: 10.77.0.1, dns: [10.77.0.1], lease: 1h, options: { 42: 10.77.0.1 } }
boot:
  bios: undionly.kpxe
  uefi: snponly.efi
  script: http://{server}/boot/{mac}.ipxe
iscsi:
  portal: "{server}"
  target: iqn.2010-01.lan.example:{name}
  initiator: iqn.2010-01.lan.example:initiator:{name}
hosts:
  00:0c:01:02:03:04: { name: pc01, ip: 10.77.0.10, boot: iscsi }
`;

describe('DHCP fuzz', () => {
  it('100k random/mutated packets in-process: never throws, replies always encode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-dhcpfuzz-'));
    dirs.push(dir);
    const cfg = parseConfig(YAML(dir, ''), join(dir, 'lanboot.yaml'));
    const tel = new Telemetry();
    const store = new LeaseStore({ file: join(dir, 'leases'), subnets: cfg.dhcp!.subnets, reserved: [{ ip: '10.77.0.10', mac: '00:0c:01:02:03:04' }], noSync: true, offerHoldMs: 50 });
    await store.open();
    const svc = new DhcpService({ config: cfg.dhcp!, plan: new BootPlan(cfg), leases: store, telemetry: tel, log: silent, server: cfg.server });
    const ingresses: Ingress[] = [
      { via: 'packet', iface: 'lb-f0', localAddress: '10.77.0.1', addresses: ['10.77.0.1'], localPort: 67, srcAddress: '0.0.0.0', srcPort: 68, broadcast: true },
      { via: 'udp', localAddress: '10.77.0.1', localPort: 67, srcAddress: '10.77.0.2', srcPort: 67 },
      { via: 'udp', localPort: 67, srcAddress: '192.0.2.1', srcPort: 68 },
    ];
    const next = generator(0xdecafbad);
    let replies = 0;
    let tooBig = 0;
    for (let i = 0; i < 100_000; i++) {
      const buf = next();
      const reply = await svc.handleBuffer(buf, ingresses[i % ingresses.length]!);
      if (reply) {
        replies++;
        try {
          encode(reply.message, { maxLength: reply.maxLength });
        } catch (e) {
          if (!(e instanceof DhcpEncodeError)) throw e;
          tooBig++; // e.g. a fuzzed 255-byte option 82 echoed into a 548-byte reply: the transport drops and counts it
        }
      }
    }
    const dropped = [...tel.counters.values()].filter((c) => c.name === 'lanboot_dhcp_dropped_total').reduce((n, c) => n + c.value, 0);
    expect(dropped).toBeGreaterThan(50_000);
    expect(replies).toBeGreaterThan(1000); // mutated real packets still get answers
    expect(tooBig).toBeLessThan(replies / 10);
    expect(tel.counters.get('lanboot_dhcp_dropped_total{"reason":"internal"}')).toBeUndefined();
    await store.close();
  }, 120_000);

  it('over the wire: fuzz at the packet socket and the dgram socket, then udhcpc still gets a lease', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-dhcpfuzzw-'));
    dirs.push(dir);
    const S = lab.ns('s');
    const C = lab.ns('c');
    const R = lab.ns('r');
    lab.link(S, 's0', '10.77.0.1/16', C, 'c0', '10.77.0.250/16');
    lab.link(S, 's1', '10.99.0.1/24', R, 'r0', '10.99.0.2/24');
    lab.exec(C, 'ip route add default dev c0');
    const server = await startServer(lab, S, dir, YAML(dir, 's0'));
    // The pool is large: fuzzed DISCOVER/REQUESTs with mutated chaddrs legitimately take addresses.
    // Broadcast at the packet socket, unicast from a non-covered link at the dgram socket.
    lab.exec(C, `node --import tsx ${join(FIXTURES, 'fuzz-send.ts')} 1 3000 255.255.255.255 67`, { timeout: 60_000 });
    lab.exec(R, `node --import tsx ${join(FIXTURES, 'fuzz-send.ts')} 2 3000 10.99.0.1 67`, { timeout: 60_000 });
    expect(server.proc.exitCode).toBeNull();
    lab.exec(C, 'ip addr flush dev c0; ip link set c0 address 52:54:00:fe:00:01');
    const out = join(dir, 'udhcpc.out');
    clientScript(join(dir, 'script.sh'), out);
    lab.exec(C, `timeout 20 busybox udhcpc -i c0 -n -q -f -t 5 -T 2 -s ${join(dir, 'script.sh')}`, { timeout: 30_000 });
    expect(readFileSync(out, 'utf8')).toMatch(/arg=bound .*ip=10\.77\.\d+\.\d+ /);
    const stopped = await server.stop();
    const counters = (stopped?.counters ?? {}) as Record<string, number>;
    const dropped = Object.entries(counters).filter(([k]) => k.startsWith('lanboot_dhcp_dropped_total')).reduce((n, [, v]) => n + v, 0);
    expect(dropped).toBeGreaterThan(1000);
    expect(counters['lanboot_dhcp_dropped_total{"reason":"internal"}']).toBeUndefined();
  }, 120_000);
});
