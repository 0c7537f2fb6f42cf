/**
 * The differential test's DHCP client, run inside a client namespace:
 *   ip netns exec NS node --import tsx probe.ts '<json>'
 * json: { probes: [{ id, mac, options: {code: hex}, pxe }], clientIp, proxyServer?, waitMs }
 *
 * Phase 1 broadcasts every probe's DISCOVER at once (distinct MACs and xids)
 * and collects replies for waitMs. Phase 2, when proxyServer is set, acts as a
 * PXE client after a proxy offer: a REQUEST to the boot server's port 4011
 * from the client's address, carrying 43.71 (the first menu item, layer 0)
 * when the offer had a boot menu. Prints one JSON line per probe and phase.
 */
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { decode, encode, macToChaddr, type DhcpMessage } from '../../src/codec/dhcp.js';
import { decodeSuboptions } from '../../src/codec/dhcp-options.js';

interface Probe {
  id: string;
  mac: string;
  options: Record<string, string>;
  pxe: boolean;
}
interface Spec {
  probes: Probe[];
  clientIp: string;
  proxyServer?: string;
  waitMs: number;
}

export interface SeenReply {
  from: string;
  type: number;
  yiaddr: string;
  siaddr: string;
  sname: string;
  file: string;
  options: Record<string, string>;
}

const spec = JSON.parse(process.argv[2]!) as Spec;
const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
await new Promise<void>((r) => sock.bind(68, '0.0.0.0', () => r()));
sock.setBroadcast(true);

const byXid = new Map<number, SeenReply[]>();
sock.on('message', (buf, rinfo) => {
  let m: DhcpMessage;
  try {
    m = decode(buf);
  } catch {
    return;
  }
  const list = byXid.get(m.xid);
  if (!list || m.op !== 2) return;
  const options: Record<string, string> = {};
  for (const [k, v] of m.options) options[k] = v.toString('hex');
  list.push({ from: rinfo.address, type: m.options.get(53)?.[0] ?? 0, yiaddr: m.yiaddr, siaddr: m.siaddr, sname: m.sname, file: m.file, options });
});

function message(p: Probe, type: number, ciaddr: string, extra: Record<string, Buffer> = {}): { xid: number; buf: Buffer } {
  const xid = randomInt(1, 0xffffffff);
  byXid.set(xid, []);
  const opts = new Map<number, Buffer>([[53, Buffer.from([type])]]);
  for (const [k, v] of Object.entries(p.options)) opts.set(Number(k), Buffer.from(v, 'hex'));
  for (const [k, v] of Object.entries(extra)) opts.set(Number(k), v);
  const msg: DhcpMessage = {
    op: 1, htype: 1, hlen: 6, hops: 0, xid, secs: 4, flags: type === 1 ? 0x8000 : 0, ciaddr,
    yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: macToChaddr(p.mac), sname: '', file: '', options: opts,
  };
  return { xid, buf: encode(msg, { minLength: 300 }) };
}

const send = (buf: Buffer, port: number, to: string) => new Promise<void>((r) => sock.send(buf, port, to, () => r()));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Phase 1: DISCOVER.
const discovers = new Map<string, number>();
for (const p of spec.probes) {
  const { xid, buf } = message(p, 1, '0.0.0.0');
  discovers.set(p.id, xid);
  await send(buf, 67, '255.255.255.255');
}
await sleep(spec.waitMs);
for (const p of spec.probes) process.stdout.write(JSON.stringify({ id: p.id, phase: 'discover', replies: byXid.get(discovers.get(p.id)!) }) + '\n');

// Phase 2: the boot server request a PXE client sends after a proxy offer.
if (spec.proxyServer) {
  const requests = new Map<string, number>();
  for (const p of spec.probes.filter((x) => x.pxe)) {
    const offer = byXid.get(discovers.get(p.id)!)!.find((r) => r.type === 2 && r.yiaddr === '0.0.0.0');
    const extra: Record<string, Buffer> = {};
    const menu = offer?.options['43'] ? decodeSuboptions(Buffer.from(offer.options['43'], 'hex'), 43).get(9) : undefined;
    if (menu && menu.length >= 3) extra['43'] = Buffer.from([71, 4, menu[0]!, menu[1]!, 0, 0, 255]);
    const sid = offer?.options['54'];
    const to = sid && sid.length === 8 ? Buffer.from(sid, 'hex').join('.') : spec.proxyServer;
    const { xid, buf } = message(p, 3, spec.clientIp, extra);
    requests.set(p.id, xid);
    await send(buf, 4011, to);
  }
  await sleep(spec.waitMs);
  for (const [id, xid] of requests) process.stdout.write(JSON.stringify({ id, phase: '4011', replies: byXid.get(xid) }) + '\n');
}
sock.close();
