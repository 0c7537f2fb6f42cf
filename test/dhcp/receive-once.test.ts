/**
 * The DHCP transport receives each datagram once (issue 11, finding 1): on a
 * served interface a unicast from a host with an address (an on-link relay,
 * a renewing client) comes in by the UDP socket only, a broadcast or a
 * datagram from 0.0.0.0 by the packet socket only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsScope, type VethPair } from '../helpers/netns.js';
import { ETH_P_ALL } from '../../src/net/packet.js';
import { encodeUdpFrame } from '../../src/codec/ipv4.js';
import { parseConfig } from '../../src/config/load.js';
import { DhcpTransport } from '../../src/dhcp/transport.js';
import type { Ingress } from '../../src/dhcp/types.js';
import { Telemetry } from '../../src/telemetry.js';
import { silent } from '../../src/log.js';
import { Peer } from '../net/peer.js';

async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('DHCP transport: one receive per datagram', () => {
  const net = new NetnsScope();
  let link: VethPair;
  let peer: Peer;
  let dir: string;
  const subnet = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
  const port = 20_000 + Math.floor(Math.random() * 20_000);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lb-rxonce-'));
    const ns = await net.createNetns();
    link = await net.addVethPair(null, ns, { addrA: `${subnet}.1/24`, addrB: `${subnet}.2/24` });
    peer = await Peer.start(net, ns, { ifname: link.b, protocol: ETH_P_ALL, quiet: true });
  }, 30_000);
  afterAll(async () => {
    await net.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('unicast from an addressed host by UDP, broadcasts and 0.0.0.0 by the packet socket, each once', async () => {
    const cfg = parseConfig(
      `state_dir: ${dir}\ninterfaces: [${link.a}]\ndhcp:\n  mode: authoritative\n  port: ${port}\n  arp_probe: false\n  subnets:\n    - { subnet: ${subnet}.0/24, range: ${subnet}.100-${subnet}.110 }\n`,
      join(dir, 'lanboot.yaml'),
    );
    const got: Array<{ tag: string; via: Ingress['via'] }> = [];
    const transport = new DhcpTransport({
      config: cfg.dhcp!,
      interfaces: cfg.interfaces,
      handler: async (buf, ingress) => {
        got.push({ tag: buf.subarray(0, buf.indexOf(0)).toString(), via: ingress.via });
        return null;
      },
      telemetry: new Telemetry(),
      log: silent,
    });
    await transport.start();
    const BC = 'ff:ff:ff:ff:ff:ff';
    const send = (tag: string, o: { src: string; dst: string; dstMac: string }) => {
      const payload = Buffer.alloc(300);
      payload.write(tag);
      return peer.send(encodeUdpFrame({ srcMac: link.macB, dstMac: o.dstMac, src: o.src, dst: o.dst, srcPort: 67, dstPort: port, payload }));
    };
    try {
      await send('relay unicast', { src: `${subnet}.2`, dst: `${subnet}.1`, dstMac: link.macA });
      await send('rebinding broadcast', { src: `${subnet}.2`, dst: '255.255.255.255', dstMac: BC });
      await send('discover broadcast', { src: '0.0.0.0', dst: '255.255.255.255', dstMac: BC });
      await send('end', { src: `${subnet}.2`, dst: `${subnet}.1`, dstMac: link.macA });
      await until(() => got.some((g) => g.tag === 'end'), 5000, 'end');
      await new Promise((r) => setTimeout(r, 200));
      expect(got.sort((a, b) => a.tag.localeCompare(b.tag))).toEqual([
        { tag: 'discover broadcast', via: 'packet' },
        { tag: 'end', via: 'udp' },
        { tag: 'rebinding broadcast', via: 'packet' },
        { tag: 'relay unicast', via: 'udp' },
      ]);
    } finally {
      await transport.stop();
    }
  }, 30_000);
});
