import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsScope, type VethPair } from '../helpers/netns.js';
import { PacketSocket, PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST } from '../../src/io/packet.js';
import { Peer } from './peer.js';

// IEEE 802 local experimental EtherType: nothing else on the link uses it.
const ETH_EXP = 0x88b5;

function mac(s: string): Buffer {
  return Buffer.from(s.replace(/:/g, ''), 'hex');
}

function frame(dst: string, src: string, type: number, payload: Buffer | string): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const b = Buffer.alloc(Math.max(60, 14 + p.length));
  mac(dst).copy(b, 0);
  mac(src).copy(b, 6);
  b.writeUInt16BE(type, 12);
  p.copy(b, 14);
  return b;
}

function collect(sock: PacketSocket): Array<{ frame: Buffer; pktType: number }> {
  const got: Array<{ frame: Buffer; pktType: number }> = [];
  sock.on('frame', (f, t) => got.push({ frame: f, pktType: t }));
  return got;
}

async function until(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('PacketSocket over a veth pair', () => {
  const net = new NetnsScope();
  let ns: string;
  let link: VethPair;

  beforeAll(async () => {
    ns = await net.createNetns();
    link = await net.addVethPair(null, ns);
  });
  afterAll(() => net.cleanup());

  it('reports the interface MAC, index and MTU', () => {
    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP });
    try {
      expect(s.mac).toBe(link.macA);
      expect(s.mtu).toBe(1500);
      expect(s.ifindex).toBeGreaterThan(0);
    } finally {
      s.close();
    }
  });

  it('carries frames both ways', async () => {
    const peer = await Peer.start(net, ns, { ifname: link.b, protocol: ETH_EXP });
    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP });
    const got = collect(s);
    try {
      expect(peer.mac).toBe(link.macB);
      const out = frame(link.macB, link.macA, ETH_EXP, 'root to ns');
      s.send(out);
      const [f] = await peer.waitFrames(1);
      expect(f.frame.equals(out)).toBe(true);
      expect(f.pktType).toBe(PACKET_HOST);

      const back = frame(link.macA, link.macB, ETH_EXP, 'ns to root');
      await peer.send(back);
      await until(() => got.length >= 1, 5000, 'frame from peer');
      expect(got[0].frame.equals(back)).toBe(true);
      expect(got[0].pktType).toBe(PACKET_HOST);
      // Our own send is not delivered back to us (PACKET_OUTGOING ignored).
      expect(got.some((g) => g.frame.equals(out))).toBe(false);
    } finally {
      s.close();
    }
  });
});
