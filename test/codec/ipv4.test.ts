import { describe, expect, it } from 'vitest';
import {
  FrameError,
  decodeIpv4,
  decodeIpv4Udp,
  decodeUdp,
  decodeUdpFrame,
  encodeIpv4,
  encodeIpv4Udp,
  encodeUdp,
  encodeUdpFrame,
  internetChecksum,
  ipv4EncodingLength,
  ipv4UdpEncodingLength,
  udpFrameEncodingLength,
} from '../../src/codec/ipv4.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Captured with tshark on a veth between two namespaces; tshark 4.0.17 with
// ip.check_checksum and udp.check_checksum reported every checksum "correct"
// unless noted.

// busybox udhcpc 1.35 DHCPDISCOVER (raw socket, checksums computed by udhcpc).
const DISCOVER = hex(
  'ffffffffffff020000000a0108004500014800000000401179a600000000ffffffff004400430134024e01010600c7665a18' +
    '0000000000000000000000000000000000000000020000000a01' + '00'.repeat(202) +
    '638253633501013902024037070103060c0f1c2a0c076c616e626f6f743c0c756468637020312e33352e303d0701020000000a01ff' +
    '00'.repeat(11),
);
// ping -R: IHL 15 (40 bytes of Record Route options), ICMP echo.
const PING_RR = hex(
  '020000000b02020000000a0108004f00007c10c040004001d8850a6300010a630002010727080a630001' + '00'.repeat(32) +
    '080059fb289f0001390b026b000000006c1b0f0000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637',
);
// socat UDP 10.99.0.1:48495 -> 10.99.0.2:6767 "lanboot!x" from a kernel socket:
// veth checksum offload left the UDP checksum partial (0x14eb); tshark: "should be 0xdccf".
const OFFLOADED = hex('020000000b02020000000a010800450000259ada400040118b250a6300010a630002bd6f1a6f001114eb6c616e626f6f742178');

describe('checksum', () => {
  it('computes the RFC 1071 example checksum', () => {
    // RFC 1071 section 3: words 0001 f203 f4f5 f6f7 sum to ddf2 (complement 220d).
    expect(internetChecksum(hex('0001f203f4f5f6f7'))).toBe(0x220d);
    expect(internetChecksum(hex('01'))).toBe(0xfeff); // odd byte padded with zero
  });
});

describe('captured vectors', () => {
  it('decodes the udhcpc DHCPDISCOVER and verifies both checksums', () => {
    const f = decodeUdpFrame(DISCOVER);
    expect(f.dstMac).toBe('ff:ff:ff:ff:ff:ff');
    expect(f.srcMac).toBe('02:00:00:00:0a:01');
    expect(f.ip).toMatchObject({ src: '0.0.0.0', dst: '255.255.255.255', ttl: 64, id: 0, totalLength: 328, checksum: 0x79a6 });
    expect(f.udp).toMatchObject({ srcPort: 68, dstPort: 67, length: 308, checksum: 0x024e });
    expect(f.udp.payload.length).toBe(300);
    expect(f.udp.payload.readUInt32BE(236)).toBe(0x63825363); // DHCP magic cookie
  });

  it('re-encodes the DHCPDISCOVER byte for byte', () => {
    const f = decodeUdpFrame(DISCOVER);
    const again = encodeUdpFrame({
      srcMac: f.srcMac,
      dstMac: f.dstMac,
      src: f.ip.src,
      dst: f.ip.dst,
      ttl: f.ip.ttl,
      id: f.ip.id,
      tos: f.ip.tos,
      srcPort: f.udp.srcPort,
      dstPort: f.udp.dstPort,
      payload: f.udp.payload,
    });
    expect(again).toEqual(DISCOVER);
    expect(udpFrameEncodingLength({ ...f, ...f.ip, ...f.udp })).toBe(DISCOVER.length);
  });

  it('decodes IP options through the IHL and re-encodes them', () => {
    const ip = decodeIpv4(PING_RR.subarray(14));
    expect(ip.headerLength).toBe(60);
    expect(ip.options.length).toBe(40);
    expect([...ip.options.subarray(0, 4)]).toEqual([1, 7, 39, 8]); // NOP, Record Route len 39 ptr 8
    expect(ip).toMatchObject({ protocol: 1, src: '10.99.0.1', dst: '10.99.0.2', dontFragment: true, id: 0x10c0, checksum: 0xd885 });
    expect(ip.payload.length).toBe(0x7c - 60);
    expect(encodeIpv4(ip)).toEqual(PING_RR.subarray(14));
    expect(ipv4EncodingLength(ip)).toBe(0x7c);
  });

  it('computes the checksum tshark expected for the offloaded datagram', () => {
    const out = encodeIpv4Udp({
      src: '10.99.0.1',
      dst: '10.99.0.2',
      id: 0x9ada,
      dontFragment: true,
      srcPort: 48495,
      dstPort: 6767,
      payload: Buffer.from('lanboot!x'),
    });
    expect(out.readUInt16BE(10)).toBe(0x8b25); // IP header checksum as captured
    expect(out.readUInt16BE(26)).toBe(0xdccf); // what tshark said it should be
    expect(out.subarray(0, 26)).toEqual(OFFLOADED.subarray(14, 40));
  });

  it('rejects the partial checksum unless told the kernel never filled it in', () => {
    expect(() => decodeUdpFrame(OFFLOADED)).toThrow(expect.objectContaining({ reason: 'udp-checksum' }));
    const f = decodeUdpFrame(OFFLOADED, { verifyChecksum: false });
    expect(f.udp.payload.toString()).toBe('lanboot!x');
  });
});

describe('validation', () => {
  const good = encodeIpv4Udp({ src: '192.168.7.1', dst: '192.168.7.99', srcPort: 67, dstPort: 68, payload: Buffer.from('offer') });

  function mutate(fn: (b: Buffer) => void, fixChecksum = true): Buffer {
    const b = Buffer.from(good);
    fn(b);
    if (fixChecksum) {
      const hl = Math.max(20, (b[0] & 15) * 4);
      b.writeUInt16BE(0, 10);
      if (hl <= b.length) b.writeUInt16BE(internetChecksum(b, 0, hl), 10);
    }
    return b;
  }

  it('accepts the good packet and trims Ethernet padding', () => {
    const padded = Buffer.concat([good, Buffer.alloc(13)]);
    const { ip, udp } = decodeIpv4Udp(padded);
    expect(ip.totalLength).toBe(good.length);
    expect(udp.payload.toString()).toBe('offer');
    expect(ipv4UdpEncodingLength({ src: '1.1.1.1', dst: '2.2.2.2', srcPort: 1, dstPort: 2, payload: Buffer.alloc(5) })).toBe(33);
  });

  it.each([
    ['short', Buffer.alloc(19)],
    ['version', mutate((b) => (b[0] = 0x65))],
    ['ihl', mutate((b) => (b[0] = 0x44))],
    ['total-length', mutate((b) => b.writeUInt16BE(19, 2))],
    ['truncated', mutate((b) => b.writeUInt16BE(good.length + 1, 2))],
    ['checksum', mutate((b) => (b[8] = 1), false)],
    ['not-udp', mutate((b) => (b[9] = 6))],
    ['fragment', mutate((b) => b.writeUInt16BE(0x2000, 6))],
    ['fragment', mutate((b) => b.writeUInt16BE(0x0001, 6))],
    ['udp-length', mutate((b) => b.writeUInt16BE(7, 24))],
    ['udp-length', mutate((b) => b.writeUInt16BE(100, 24))],
    ['udp-checksum', mutate((b) => (b[b.length - 1] ^= 1))],
  ])('rejects %s', (reason, buf) => {
    expect(() => decodeIpv4Udp(buf)).toThrow(expect.objectContaining({ reason }));
  });

  it('accepts a zero UDP checksum as "none"', () => {
    const b = Buffer.from(good);
    b.writeUInt16BE(0, 26);
    expect(decodeIpv4Udp(b).udp.checksum).toBe(0);
  });

  it('sends 0xffff when the computed UDP checksum is zero', () => {
    // Pick the payload so the ones-complement sum is 0xffff: the checksum field must not be 0.
    const base = { srcPort: 1000, dstPort: 2000 };
    const probe = encodeUdp({ ...base, payload: Buffer.alloc(2) }, '10.0.0.1', '10.0.0.2');
    const c = probe.readUInt16BE(6);
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(c, 0); // adding the old checksum makes the sum 0xffff
    const u = encodeUdp({ ...base, payload }, '10.0.0.1', '10.0.0.2');
    expect(u.readUInt16BE(6)).toBe(0xffff);
    expect(decodeUdp(u, '10.0.0.1', '10.0.0.2').payload).toEqual(payload);
  });

  it('refuses to encode out-of-range fields', () => {
    const p = { src: '1.1.1.1', dst: '2.2.2.2', srcPort: 1, dstPort: 2, payload: Buffer.alloc(0) };
    expect(() => encodeIpv4Udp({ ...p, srcPort: 65536 })).toThrow(FrameError);
    expect(() => encodeIpv4Udp({ ...p, ttl: 256 })).toThrow(FrameError);
    expect(() => encodeIpv4Udp({ ...p, src: '1.1.1' })).toThrow(FrameError);
    expect(() => encodeIpv4Udp({ ...p, payload: Buffer.alloc(65508) })).toThrow(FrameError);
    expect(() => encodeIpv4({ ...p, protocol: 17, options: Buffer.alloc(41) })).toThrow(FrameError);
  });

  it('never throws anything but FrameError on mutated packets', () => {
    let seed = 99;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
    const frame = encodeUdpFrame({ srcMac: '02:00:00:00:00:01', dstMac: 'ff:ff:ff:ff:ff:ff', ...{ src: '0.0.0.0', dst: '255.255.255.255', srcPort: 68, dstPort: 67, payload: Buffer.alloc(40, 7) } });
    const bad: unknown[] = [];
    let ok = 0;
    for (let i = 0; i < 20000; i++) {
      const b = Buffer.from(frame.subarray(0, 14 + (rnd() % (frame.length - 13))));
      for (let k = rnd() % 3; k >= 0; k--) b[rnd() % b.length] = rnd() & 0xff;
      try {
        decodeUdpFrame(b, { verifyChecksum: i % 2 === 0 });
        ok++;
      } catch (e) {
        if (!(e instanceof FrameError)) bad.push(e);
      }
    }
    expect(bad).toEqual([]);
    expect(ok).toBeGreaterThan(0);
  });
});
