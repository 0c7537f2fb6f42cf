/**
 * CPU per DORA of lanboot's DHCP path without sockets, for profiling and
 * before/after comparisons of codec, plan, service, log and journal changes
 * (the socket paths are measured by run.ts, against Kea).
 *
 *   node dist/bench/dhcp/micro.js [--clients 20000] [--batch 64] [--rounds 3] [--mix plain|pxe] [--silent] [--no-sync] > LOGFILE
 *
 * Requests are perfdhcp's (relayed, client-id = htype+chaddr, parameter list)
 * or, with --mix pxe, a third each of BIOS PXE ROMs, UEFI PXE and iPXE. Every
 * round runs DISCOVER -> OFFER and REQUEST -> ACK for every client, `batch`
 * clients in flight (their lease writes share fsyncs as under load); each reply
 * is encoded as the transport encodes it. Log lines (level info) go to stdout
 * through the logger `lanboot start` uses: redirect it to a file or a pipe.
 * Prints process CPU (all threads) per DORA, and wall time, on stderr.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode, macToChaddr, type DhcpMessage } from '../../src/codec/dhcp.js';
import { loadConfig } from '../../src/config/load.js';
import { BootPlan } from '../../src/plan/index.js';
import { LeaseStore } from '../../src/leases/store.js';
import { DhcpService, type Ingress } from '../../src/dhcp/service.js';
import { Telemetry } from '../../src/telemetry.js';
import { makeLogger, silent } from '../../src/log.js';

const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf('--' + name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : def;
};
const clients = Number(arg('clients', '20000'));
const batch = Number(arg('batch', '64'));
const rounds = Number(arg('rounds', '3'));
const mix = arg('mix', 'plain');
const quiet = args.includes('--silent');
const noSync = args.includes('--no-sync');
/** dhcp.commit_delay_ms for the run (default: the config's default). */
const commitDelay = arg('commit-delay', '');

const dir = mkdtempSync(join(tmpdir(), 'lb-dhcpmicro-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const cfgFile = join(dir, 'lanboot.yaml');
writeFileSync(
  cfgFile,
  [
    'server: 10.77.0.1',
    `state_dir: ${dir}`,
    'dhcp:',
    '  subnets:',
    '    - { subnet: 10.77.0.0/16, range: 10.77.1.0-10.77.250.255, router: 10.77.0.1, dns: [10.77.0.1], lease: 1h }',
    'tftp: { root: /srv/tftp }',
    'http: { port: 80 }',
    'boot: { bios: undionly.kpxe, uefi: snponly.efi, script: "http://{http}/boot/{mac}.ipxe" }',
    'iscsi: { portal: "{server}", target: "iqn.2026-01.lanboot.demo:{name}", initiator: "iqn.2026-01.lanboot.demo:initiator:{name}" }',
    'hosts:',
    '  52:54:00:12:34:56: { name: demo1, ip: 10.77.0.10, boot: iscsi }',
    '',
  ].join('\n'),
);
const config = loadConfig(cfgFile);
const plan = new BootPlan(config);
const telemetry = new Telemetry();
const log = quiet ? silent : makeLogger('info').child({ svc: 'dhcp' });
const leases = new LeaseStore({ file: join(dir, 'leases.journal'), subnets: config.dhcp!.subnets, commitDelayMs: commitDelay === '' ? config.dhcp!.commit_delay_ms : Number(commitDelay), noSync });
await leases.open();
const service = new DhcpService({ config: config.dhcp!, plan, leases, telemetry, log, server: config.server });
const ingress: Ingress = { via: 'packet', iface: 's0', localAddress: '10.77.0.1', addresses: ['10.77.0.1'], localPort: 67, srcAddress: '10.77.0.2', srcPort: 67 };

const PRL = Buffer.from([1, 28, 2, 3, 15, 6, 12]);
const PXE_PRL = Buffer.from([1, 3, 6, 12, 15, 17, 26, 43, 60, 66, 67, 97, 119, 128, 129, 130, 175, 203]);
function request(i: number, type: 1 | 3, yiaddr?: string): Buffer {
  const mac = `00:0c:01:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  const chaddr = macToChaddr(mac);
  const o = new Map<number, Buffer>([[53, Buffer.from([type])]]);
  if (type === 3) {
    o.set(50, Buffer.from(yiaddr!.split('.').map(Number)));
    o.set(54, Buffer.from([10, 77, 0, 1]));
  }
  o.set(61, Buffer.concat([Buffer.from([1]), chaddr.subarray(0, 6)]));
  const kind = mix === 'pxe' ? i % 3 : -1;
  if (kind < 0) o.set(55, PRL);
  else {
    o.set(55, PXE_PRL);
    o.set(57, Buffer.from([0x05, 0xc0]));
    o.set(93, Buffer.from([0, kind === 0 ? 0 : 7]));
    o.set(94, Buffer.from([1, 3, 16]));
    o.set(60, Buffer.from(`PXEClient:Arch:0000${kind === 0 ? 0 : 7}:UNDI:003016`));
    o.set(97, Buffer.concat([Buffer.from([0]), Buffer.alloc(16, i & 255)]));
    if (kind === 2) o.set(77, Buffer.from('iPXE'));
  }
  const m: DhcpMessage = {
    op: 1, htype: 1, hlen: 6, hops: 1, xid: (i * 2 + type) >>> 0, secs: 0, flags: 0, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0',
    giaddr: '10.77.0.2', chaddr, sname: '', file: '', options: o,
  };
  return encode(m);
}

/** REQUESTs made up front with option 50 = 0.0.0.0; `at` is where its value starts. */
function requestTemplate(i: number): { buf: Buffer; at: number } {
  const buf = request(i, 3, '0.0.0.0');
  let at = 240;
  while (buf[at] !== 50) at += buf[at] === 0 ? 1 : 2 + buf[at + 1]!;
  return { buf, at: at + 2 };
}

/** What the transport does with a reply. */
function send(r: { message: DhcpMessage; maxLength: number; requested?: number[] } | null): string | undefined {
  if (!r) return undefined;
  encode(r.message, { maxLength: r.maxLength, requested: r.requested });
  return r.message.yiaddr;
}

// Packets are made up front: building them is not the server's work.
const discovers = Array.from({ length: clients }, (_, i) => request(i, 1));
const requests = Array.from({ length: clients }, (_, i) => requestTemplate(i));
function requestFor(i: number, yiaddr: string | undefined): Buffer {
  const { buf, at } = requests[i]!;
  const out = Buffer.from(buf);
  if (yiaddr) yiaddr.split('.').forEach((x, k) => (out[at + k] = Number(x)));
  return out;
}
let acks = 0;
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
for (let round = 0; round < rounds; round++) {
  for (let b = 0; b < clients; b += batch) {
    const ids = Array.from({ length: Math.min(batch, clients - b) }, (_, k) => b + k);
    const offered = await Promise.all(ids.map((i) => service.handleBuffer(Buffer.from(discovers[i]!), ingress).then(send)));
    const acked = await Promise.all(ids.map((i, k) => service.handleBuffer(requestFor(i, offered[k]), ingress).then(send)));
    acks += acked.filter(Boolean).length;
  }
}
const cpu = process.cpuUsage(c0);
const wall = Number(process.hrtime.bigint() - t0) / 1e6;
await leases.close();
const per = (cpu.user + cpu.system) / acks;
process.stderr.write(
  `${acks} DORA (${mix}, batch ${batch}${quiet ? ', no logs' : ''}${noSync ? ', no fsync' : ''}): ${per.toFixed(1)} us CPU per DORA (user ${(cpu.user / acks).toFixed(1)}, sys ${(cpu.system / acks).toFixed(1)}), ` +
    `${(acks / (wall / 1000)).toFixed(0)} DORA/s wall, journal ${leases.journal.commits} commits / ${leases.journal.syncs} fsyncs\n`,
);
