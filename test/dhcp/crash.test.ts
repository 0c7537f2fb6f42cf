/**
 * Crash test: kill -9 the DHCP server in the middle of a perfdhcp run, then
 * compare the lease journal with every ACK that left the server (captured on
 * the client side with tshark). The server fsyncs before an ACK leaves, so:
 *   - every captured ACK (chaddr -> yiaddr, the last one per client) is a live
 *     lease after restart;
 *   - no address is bound to two clients, no client holds two addresses;
 *   - the restarted server loads the journal (torn tail cut) and answers again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, startServer, type ServerHandle } from './netns.js';
import { LeaseStore } from '../../src/leases/store.js';
import { parseConfig } from '../../src/config/load.js';

const lab = new Lab();
let dir: string;
let S: string, C: string;

const YAML = `
interfaces: []
state_dir: STATE
log: { level: warn }
dhcp:
  mode: authoritative
  address: 0.0.0.0
  subnets:
    - { subnet: 10.77.0.0/16, range: 10.77.1.0-10.77.200.255, router: 10.77.0.1, dns: [10.77.0.1], lease: 1h }
boot:
  bios: undionly.kpxe
  uefi: snponly.efi
  script: http://{server}/boot/{mac}.ipxe
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lb-dhcpcrash-'));
  S = lab.ns('s');
  C = lab.ns('c');
  lab.link(S, 's0', '10.77.0.1/16', C, 'c0', '10.77.0.2/16');
});

afterAll(() => {
  lab.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('crash safety', () => {
  it('kill -9 under perfdhcp load loses and duplicates no ACKed lease', async () => {
    const yaml = YAML.replace('STATE', dir);
    let server: ServerHandle | undefined = await startServer(lab, S, dir, yaml);
    const pcap = join(dir, 'acks.pcap');
    const tshark = lab.spawn(C, ['tshark', '-q', '-B', '64', '-i', 'c0', '-f', 'udp src port 67', '-w', pcap]);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('tshark did not start')), 20_000);
      tshark.stderr!.on('data', (d: Buffer) => {
        if (d.toString().includes('Capturing on')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const perf = lab.spawn(C, ['perfdhcp', '-4', '-l', 'c0', '-r', '800', '-R', '3000', '-p', '8', '10.77.0.1']);
    perf.stdout!.resume();
    perf.stderr!.resume();
    await sleep(2000 + Math.random() * 2000);
    server.proc.kill('SIGKILL');
    await new Promise((r) => server!.proc.once('exit', r));
    await new Promise((r) => perf.once('exit', r));
    await sleep(500);
    tshark.kill('SIGINT');
    await new Promise((r) => tshark.once('exit', r));

    const rows = lab
      .exec(C, `tshark -r ${pcap} -Y 'dhcp.option.dhcp == 5' -T fields -E occurrence=f -e dhcp.hw.mac_addr -e dhcp.ip.your`, { timeout: 60_000 })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t') as [string, string]);
    expect(rows.length).toBeGreaterThan(200); // the run really was under load when killed
    const lastAck = new Map<string, string>();
    for (const [mac, ip] of rows) lastAck.set(mac.toLowerCase(), ip);

    // Restart: the real server loads the journal (cutting a torn tail) and answers again.
    server = await startServer(lab, S, dir, yaml);
    const probe = lab.exec(C, 'timeout 10 perfdhcp -4 -l c0 -r 10 -R 10 -n 10 -p 3 10.77.0.1 2>&1 || true', { timeout: 20_000 });
    expect(probe).toMatch(/received packets: [1-9]/);
    await server.stop();

    const cfg = parseConfig(yaml, join(dir, 'lanboot.yaml'));
    const store = new LeaseStore({ file: join(dir, 'leases.journal'), subnets: cfg.dhcp!.subnets });
    await store.open();
    try {
      let missing = 0;
      for (const [mac, ip] of lastAck) {
        const l = store.leaseAt(ip);
        if (!l || l.mac !== mac) missing++;
      }
      expect(missing).toBe(0);
      const live = store.all().filter((l) => l.state === 'bound' && l.expires > Date.now());
      const byIp = new Set(live.map((l) => l.ip));
      const byKey = new Set(live.map((l) => l.key));
      expect(byIp.size).toBe(live.length);
      expect(byKey.size).toBe(live.length);
      expect(live.length).toBeGreaterThanOrEqual(lastAck.size);
    } finally {
      await store.close();
    }
  }, 120_000);
});
