import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsScope, type VethPair } from '../helpers/netns.js';
import { interfaceInfo, listInterfaces } from '../../src/net/interfaces.js';
import { linkInfo } from '../../src/net/packet.js';

describe('interfaceInfo', () => {
  const net = new NetnsScope();
  let link: VethPair;
  const third = Math.floor(Math.random() * 250);

  beforeAll(async () => {
    const ns = await net.createNetns();
    // 198.18.0.0/15 is reserved for benchmarking: no real network uses it.
    link = await net.addVethPair(null, ns, { addrA: `198.18.${third}.1/27`, mtu: 1400, macA: '02:4c:42:00:00:01' });
    await net.exec(null, 'ip', ['addr', 'add', `198.19.${third}.1/28`, 'dev', link.a]);
  });
  afterAll(() => net.cleanup());

  it('reports index, MAC, MTU, state and every IPv4 address of a veth', () => {
    const info = interfaceInfo(link.a);
    expect(info).toMatchObject({ ifname: link.a, mac: '02:4c:42:00:00:01', mtu: 1400, up: true, loopback: false });
    expect(info.ipv4).toEqual([
      { address: `198.18.${third}.1`, prefix: 27, netmask: '255.255.255.224' },
      { address: `198.19.${third}.1`, prefix: 28, netmask: '255.255.255.240' },
    ]);
    // Same facts as the ioctls the packet addon uses.
    expect(linkInfo(link.a)).toEqual({ ifindex: info.ifindex, mac: info.mac, mtu: 1400 });
  });

  it('knows lo and lists interfaces by index', () => {
    const lo = interfaceInfo('lo');
    expect(lo).toMatchObject({ loopback: true, up: true, mac: '00:00:00:00:00:00' });
    expect(lo.ipv4.some((a) => a.address === '127.0.0.1' && a.prefix === 8)).toBe(true);
    const all = listInterfaces();
    expect(all.map((i) => i.ifname)).toContain(link.a);
    expect(all.map((i) => i.ifindex)).toEqual([...all.map((i) => i.ifindex)].sort((a, b) => a - b));
  });

  it('throws ENODEV for unknown or malformed names', () => {
    for (const n of ['lb-nosuchif0', '', '../lo', 'lo/x', 'x'.repeat(16)]) {
      expect(() => interfaceInfo(n)).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    }
  });
});
