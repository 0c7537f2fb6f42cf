/**
 * One receive per datagram (dhcp/transport): a packet socket filtered with
 * udpDstPort(..., { linkScope }) and a dgram socket filtered with
 * udpLinkScopeExcept([ifindex]) split a served interface's traffic between
 * them in the kernel: link-scope frames (Ethernet broadcast, or from 0.0.0.0)
 * to the packet socket, unicast from a host with an address to the dgram socket.
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsScope, type VethPair } from '../helpers/netns.js';
import { ETH_P_ALL, PacketSocket, attachFilter } from '../../src/net/packet.js';
import { udpDstPort, udpLinkScopeExcept } from '../../src/net/bpf.js';
import { socketFd } from '../../src/net/udp.js';
import { encodeUdpFrame } from '../../src/codec/ipv4.js';
import { Peer } from './peer.js';

async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('splitting a served interface between a packet socket and a dgram socket', () => {
  const net = new NetnsScope();
  let ns: string;
  let link: VethPair;
  const subnet = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  let peer: Peer;

  beforeAll(async () => {
    ns = await net.createNetns();
    link = await net.addVethPair(null, ns, { addrA: `${subnet}.1/24`, addrB: `${subnet}.2/24` });
    peer = await Peer.start(net, ns, { ifname: link.b, protocol: ETH_P_ALL, quiet: true });
  }, 30_000);
  afterAll(() => net.cleanup());

  const frame = (tag: string, o: { src: string; dst: string; dstMac: string }): Buffer =>
    encodeUdpFrame({ srcMac: link.macB, dstMac: o.dstMac, src: o.src, dst: o.dst, srcPort: 68, dstPort: port, payload: Buffer.from(tag) });

  it('each datagram reaches exactly one of the two sockets; without the filters both get the broadcasts', async () => {
    const udp = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((r) => udp.bind(port, '0.0.0.0', () => r()));
    udp.setBroadcast(true);
    const viaUdp: string[] = [];
    udp.on('message', (m) => viaUdp.push(m.toString()));
    const ps = PacketSocket.open({ ifname: link.a, protocol: ETH_P_ALL, filter: udpDstPort(port) });
    const viaPacket: string[] = [];
    ps.on('frame', (f) => viaPacket.push(f.subarray(42).toString().replace(/\0+$/, ''))); // less the Ethernet padding
    const BC = 'ff:ff:ff:ff:ff:ff';
    const sendAll = async (round: string) => {
      await peer.send(frame(`${round} unicast`, { src: `${subnet}.2`, dst: `${subnet}.1`, dstMac: link.macA }));
      await peer.send(frame(`${round} broadcast`, { src: `${subnet}.2`, dst: '255.255.255.255', dstMac: BC }));
      await peer.send(frame(`${round} broadcast from 0`, { src: '0.0.0.0', dst: '255.255.255.255', dstMac: BC }));
      await peer.send(frame(`${round} unicast from 0`, { src: '0.0.0.0', dst: `${subnet}.1`, dstMac: link.macA }));
      await peer.send(frame(`${round} end`, { src: `${subnet}.2`, dst: `${subnet}.1`, dstMac: link.macA }));
      await until(() => viaUdp.includes(`${round} end`) && viaPacket.includes(`${round} end`) === (round === 'plain'), 5000, `${round} end`);
      await new Promise((r) => setTimeout(r, 100));
    };
    try {
      // Unfiltered: the broadcast from a host with an address is received twice.
      await sendAll('plain');
      expect(viaUdp).toContain('plain broadcast');
      expect(viaPacket).toContain('plain broadcast');

      const fd = socketFd(udp);
      expect(fd).toBeGreaterThan(2);
      attachFilter(fd!, udpLinkScopeExcept([ps.ifindex]));
      ps.setFilter(udpDstPort(port, { linkScope: true }));
      viaUdp.length = 0;
      viaPacket.length = 0;
      await sendAll('split');
      expect(viaUdp.sort()).toEqual(['split end', 'split unicast']);
      expect(viaPacket.sort()).toEqual(['split broadcast', 'split broadcast from 0', 'split unicast from 0']);

      // Another interface (lo) is not the packet socket's: the dgram socket keeps all of it.
      const lo = dgram.createSocket('udp4');
      await new Promise<void>((r) => lo.send('loopback', port, '127.0.0.1', () => r()));
      lo.close();
      await until(() => viaUdp.includes('loopback'), 5000, 'loopback datagram');
    } finally {
      ps.close();
      udp.close();
    }
  }, 30_000);
});
