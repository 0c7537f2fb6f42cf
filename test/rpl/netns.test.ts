/**
 * The responder over a real veth pair between two namespaces: server
 * (test/rpl/fixtures/server.ts) in one, the client simulator written from docs/rpl.md
 * (test/rpl/fixtures/client.ts) in the other; dumpcap captures the link and
 * tshark must decode every frame the server sent as clean RPL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { NetnsScope, waitForOutput, type VethPair } from '../helpers/netns.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SERVER = fileURLToPath(new URL('./fixtures/server.ts', import.meta.url));
const CLIENT = fileURLToPath(new URL('./fixtures/client.ts', import.meta.url));
const IPXE = '/usr/lib/ipxe/ipxe.pxe';
const A = '02:52:50:4c:10:0a';
const B = '02:52:50:4c:10:0b';
const C = '02:52:50:4c:10:0c';
const UNKNOWN = '02:52:50:4c:10:0f';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('RPL over a veth pair between two namespaces', () => {
  const net = new NetnsScope();
  let nsS: string;
  let nsC: string;
  let veth: VethPair;
  let server: ChildProcess;
  let serverMac: string;
  const events: any[] = [];
  let dir: string;
  let rnd: Buffer;
  let pcap: string;
  let capture: ChildProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lb-rplns-'));
    rnd = randomBytes(100_000);
    writeFileSync(join(dir, 'rnd.bin'), rnd);
    nsS = await net.createNetns('lb-rs');
    nsC = await net.createNetns('lb-rc');
    veth = await net.addVethPair(nsS, nsC);
    pcap = join(dir, 'cap.pcap');
    capture = net.spawn(nsC, 'dumpcap', ['-q', '-i', veth.b, '-w', pcap]);
    const deadline = Date.now() + 10_000;
    while (!(existsSync(pcap) && statSync(pcap).size >= 24) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const base = { frameSize: 1500, blockSize: 1440, pacingUs: 200, ackEvery: 0 };
    const hosts = {
      [A]: { ...base, image: { files: [{ path: IPXE, offset: 0, load: 0x7c00 }], execute: 0x7c00 } },
      [B]: { ...base, image: { files: [{ path: 'rnd.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }, ackEvery: 16 },
      [C]: { ...base, image: { files: [{ path: 'rnd.bin', offset: 1000, length: 50_000, load: 0x1000 }], execute: 0x1006 } },
    };
    server = net.spawn(nsS, process.execPath, ['--import', 'tsx', SERVER, JSON.stringify({ ifnames: [veth.a], root: dir, hosts })], { cwd: ROOT });
    createInterface({ input: server.stdout! }).on('line', (l) => {
      try {
        events.push(JSON.parse(l));
      } catch {
        // not ours
      }
    });
    const ready = JSON.parse(await waitForOutput(server, /"ready"/, 30_000));
    serverMac = ready.macs[veth.a];
  }, 60_000);

  afterAll(async () => {
    await net.cleanup();
  });

  async function runClients(clients: object[], opts: { rcvbuf?: number; timeoutMs?: number } = {}): Promise<any[]> {
    const r = await net.exec(
      nsC,
      process.execPath,
      ['--import', 'tsx', CLIENT, JSON.stringify({ ifname: veth.b, clients, timeoutMs: opts.timeoutMs ?? 20_000, rcvbuf: opts.rcvbuf })],
      { timeoutMs: 60_000 },
    );
    const lines = r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    if (!lines.some((l) => l.done)) throw new Error(`client failed (${r.code}): ${r.stderr}`);
    return lines.filter((l) => l.mac);
  }

  function expectLoaded(r: any, expected: Buffer[], execute: number): void {
    expect(r.error).toBeUndefined();
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.contiguous).toBe(true);
    expect(r.acceptedCount).toBe(r.blocks);
    expect(r.regions).toEqual(expected.map(sha));
    expect(r.execute).toBe(execute);
    expect(r.lastFlags).toBe(0xe0);
    expect(r.serverMac).toBe(serverMac);
  }

  it('loads Debian ipxe.pxe at 0x7C00 byte-exact and logs one load line', async () => {
    const ipxe = readFileSync(IPXE);
    const [r] = await runClients([{ mac: A, silenceMs: 300, regions: [[0x7c00, ipxe.length]] }]);
    expectLoaded(r, [ipxe], 0x7c00);
    expect(r.blocks).toBe(Math.ceil(ipxe.length / 1440));
    expect(r.firstWrite).toEqual([0x7c00, 1440]);
    await waitFor(() => events.some((e) => e.event === 'rpl.load' && e.mac === A));
    const load = events.find((e) => e.event === 'rpl.load' && e.mac === A);
    expect(load).toMatchObject({ svc: 'rpl', image: IPXE, bytes: ipxe.length, blocks: r.blocks });
    expect(load.frames).toBeGreaterThanOrEqual(r.blocks);
  });

  it('loss: the simulator skips frames, asks again from there, and still gets a byte-exact image', async () => {
    // 70 blocks: lose the first, one in the middle and the last (which only silence reveals)
    const [r] = await runClients([{ mac: B, drop: [0, 30, 69], silenceMs: 300, regions: [[0x2000, rnd.length]] }]);
    expectLoaded(r, [rnd], 0x2000);
    // (a slow scheduler may put a drop into a window of discarded frames, so count at least one re-request)
    expect(r.dropped).toBe(3);
    expect(r.rerequests).toBeGreaterThanOrEqual(1);
    await waitFor(() => events.some((e) => e.event === 'rpl.load' && e.mac === B));
    expect(events.find((e) => e.event === 'rpl.load' && e.mac === B).rerequests).toBeGreaterThanOrEqual(1);
  });

  it('two simulators with different MACs at once', async () => {
    const ipxe = readFileSync(IPXE);
    const rs = await runClients([
      { mac: A, silenceMs: 300, regions: [[0x7c00, ipxe.length]] },
      { mac: B, silenceMs: 300, drop: [5], regions: [[0x2000, rnd.length]] },
    ]);
    expect(rs).toHaveLength(2);
    expectLoaded(rs.find((r) => r.mac === A), [ipxe], 0x7c00);
    expectLoaded(rs.find((r) => r.mac === B), [rnd], 0x2000);
  });

  it('a 576-byte max frame size: FOUND agrees 576, blocks of 528, no frame larger', async () => {
    const [r] = await runClients([{ mac: C, maxFrame: 576, silenceMs: 300, regions: [[0x1000, 50_000]] }]);
    expectLoaded(r, [rnd.subarray(1000, 51_000)], 0x1006);
    expect(r.agreedMaxFrame).toBe(576);
    expect(r.writeSizes[0]).toBe(528);
    expect(r.largestPayload).toBeLessThanOrEqual(576);
  });

  it('an unknown MAC gets nothing', async () => {
    const [r] = await runClients([{ mac: UNKNOWN, findIntervalMs: 200 }], { timeoutMs: 2500 });
    expect(r.ok).toBe(false);
    expect(r.error).toBe('timeout');
    expect(r.serverMac).toBeUndefined();
    expect(r.framesReceived).toBe(0);
  });

  it('tshark decodes every frame the server sent as RPL, no malformed frames, no expert warnings', async () => {
    await new Promise((r) => setTimeout(r, 500)); // let dumpcap flush
    capture.kill('SIGINT');
    await new Promise((r) => capture.once('exit', r));
    const filter = `eth.src == ${serverMac}`;
    const verbose = execFileSync('tshark', ['-r', pcap, '-Y', filter, '-V'], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
    expect(verbose).not.toMatch(/malformed/i);
    expect(verbose).not.toMatch(/Expert Info/i);
    const rows = execFileSync('tshark', ['-r', pcap, '-Y', filter, '-T', 'fields', '-e', '_ws.col.Protocol', '-e', 'eth.dst'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    })
      .trim()
      .split('\n');
    expect(rows.length).toBeGreaterThan(400);
    for (const row of rows) expect(row).toMatch(/^RPL\t/);
    // nothing was ever sent to the unknown client
    expect(rows.some((r) => r.endsWith(UNKNOWN))).toBe(false);
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 50));
  }
}
