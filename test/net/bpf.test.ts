import { describe, expect, it } from 'vitest';
import { ACCEPT_BYTES, BPF_JMP, BPF_JEQ, BPF_K, bpfRun, llcSap, udpDstPort, udpLinkScopeExcept } from '../../src/net/bpf.js';
import { encode as encodeEth } from '../../src/codec/ethernet.js';
import { encodeIpv4, encodeUdp, encodeUdpFrame } from '../../src/codec/ipv4.js';

const MAC_A = '02:00:00:00:00:0a';
const MAC_B = '02:00:00:00:00:0b';

function udpFrame(dstPort: number, ip: { options?: Buffer; fragmentOffset?: number; moreFragments?: boolean; protocol?: number } = {}): Buffer {
  const udp = encodeUdp({ srcPort: 68, dstPort, payload: Buffer.from('x') }, '10.0.0.2', '10.0.0.1');
  const pkt = encodeIpv4({ src: '10.0.0.2', dst: '10.0.0.1', protocol: ip.protocol ?? 17, payload: udp, ...ip });
  return encodeEth({ kind: 'ethernet', dst: MAC_A, src: MAC_B, ethertype: 0x0800, payload: pkt });
}

describe('udpDstPort', () => {
  it('accepts exactly the listed ports', () => {
    const prog = udpDstPort([67, 4011, 69]);
    for (let port = 0; port < 70_000; port += port < 5000 ? 1 : 997) {
      const p = port & 0xffff;
      expect([p, bpfRun(prog, udpFrame(p))]).toEqual([p, [67, 69, 4011].includes(p) ? ACCEPT_BYTES : 0]);
    }
  });

  it('finds the UDP header behind IP options of every length', () => {
    const prog = udpDstPort(67);
    for (let words = 0; words <= 10; words++) {
      const options = Buffer.alloc(words * 4, 1); // NOPs
      expect(bpfRun(prog, udpFrame(67, { options }))).toBe(ACCEPT_BYTES);
      expect(bpfRun(prog, udpFrame(68, { options }))).toBe(0);
    }
  });

  it('drops non-first fragments, other protocols, other ethertypes and runts', () => {
    const prog = udpDstPort(67);
    expect(bpfRun(prog, udpFrame(67, { fragmentOffset: 1 }))).toBe(0);
    expect(bpfRun(prog, udpFrame(67, { fragmentOffset: 0x1fff }))).toBe(0);
    expect(bpfRun(prog, udpFrame(67, { moreFragments: true }))).toBe(ACCEPT_BYTES);
    expect(bpfRun(prog, udpFrame(67, { protocol: 6 }))).toBe(0);
    const arp = udpFrame(67);
    arp.writeUInt16BE(0x0806, 12);
    expect(bpfRun(prog, arp)).toBe(0);
    expect(bpfRun(prog, udpFrame(67).subarray(0, 36))).toBe(0); // header cut before the port
    expect(bpfRun(prog, encodeUdpFrame({ srcMac: MAC_B, dstMac: MAC_A, src: '0.0.0.0', dst: '255.255.255.255', srcPort: 68, dstPort: 67, payload: Buffer.alloc(300) }))).toBe(ACCEPT_BYTES);
  });

  it('validates its arguments', () => {
    expect(() => udpDstPort([])).toThrow(RangeError);
    expect(() => udpDstPort(65536)).toThrow(RangeError);
    expect(() => udpDstPort(1.5)).toThrow(RangeError);
    expect(() => udpDstPort([...Array(201).keys()])).toThrow(RangeError);
    // Duplicates collapse; the largest list still has 8-bit jump offsets.
    expect(udpDstPort([67, 67])).toEqual(udpDstPort(67));
    const big = udpDstPort([...Array(200).keys()]);
    expect(big.every((i) => i.jt <= 255 && i.jf <= 255)).toBe(true);
    expect(bpfRun(big, udpFrame(199))).toBe(ACCEPT_BYTES);
    expect(bpfRun(big, udpFrame(200))).toBe(0);
  });
});

describe('link scope: udpDstPort({ linkScope }) and udpLinkScopeExcept split one interface', () => {
  const frame = (o: { dstMac: string; src: string; dst: string }): Buffer =>
    encodeUdpFrame({ srcMac: MAC_B, dstMac: o.dstMac, src: o.src, dst: o.dst, srcPort: 68, dstPort: 67, payload: Buffer.alloc(300) });
  const BC = 'ff:ff:ff:ff:ff:ff';
  // [frame, kernel pkt_type, taken by the packet socket]
  const cases: Array<[string, Buffer, number, boolean]> = [
    ['unicast from a host with an address', frame({ dstMac: MAC_A, src: '10.0.0.2', dst: '10.0.0.1' }), 0, false],
    ['broadcast from a host with an address', frame({ dstMac: BC, src: '10.0.0.2', dst: '255.255.255.255' }), 1, true],
    ['broadcast from 0.0.0.0', frame({ dstMac: BC, src: '0.0.0.0', dst: '255.255.255.255' }), 1, true],
    ['unicast from 0.0.0.0', frame({ dstMac: MAC_A, src: '0.0.0.0', dst: '10.0.0.1' }), 0, true],
    ['multicast', frame({ dstMac: '01:00:5e:00:00:01', src: '10.0.0.2', dst: '224.0.0.1' }), 2, true],
  ];

  it('each frame of a served interface is taken by exactly one of the two', () => {
    const packet = udpDstPort([67, 4011], { linkScope: true });
    const udp = udpLinkScopeExcept([3, 7]);
    for (const [what, f, pktType, byPacket] of cases) {
      expect([what, bpfRun(packet, f) > 0]).toEqual([what, byPacket]);
      expect([what, bpfRun(udp, f, { pktType, ifindex: 7 }) > 0]).toEqual([what, !byPacket]);
    }
    // Still only the listed ports.
    const other = encodeUdpFrame({ srcMac: MAC_B, dstMac: BC, src: '0.0.0.0', dst: '255.255.255.255', srcPort: 68, dstPort: 69, payload: Buffer.alloc(300) });
    expect(bpfRun(packet, other)).toBe(0);
  });

  it('the UDP socket keeps everything from other interfaces, and everything when none is served', () => {
    for (const [what, f, pktType] of cases) {
      expect([what, bpfRun(udpLinkScopeExcept([3, 7]), f, { pktType, ifindex: 4 })]).toEqual([what, ACCEPT_BYTES]);
      expect([what, bpfRun(udpLinkScopeExcept([]), f, { pktType, ifindex: 7 })]).toEqual([what, ACCEPT_BYTES]);
    }
    const many = udpLinkScopeExcept([...Array(200).keys()].map((i) => i + 1));
    expect(many.every((i) => i.jt <= 255 && i.jf <= 255)).toBe(true);
    expect(bpfRun(many, cases[1]![1], { pktType: 1, ifindex: 200 })).toBe(0);
    expect(bpfRun(many, cases[1]![1], { pktType: 1, ifindex: 201 })).toBe(ACCEPT_BYTES);
  });
});

describe('llcSap', () => {
  const llc = (dsap: number, len?: number): Buffer => {
    const f = encodeEth({ kind: 'llc', dst: MAC_A, src: MAC_B, dsap, ssap: dsap, control: 3, payload: Buffer.from('rpl') });
    if (len !== undefined) f.writeUInt16BE(len, 12);
    return f;
  };

  it('accepts 802.3 frames with a listed DSAP only', () => {
    const prog = llcSap([0xfc, 0xf8]);
    for (let sap = 0; sap < 256; sap++) expect([sap, bpfRun(prog, llc(sap))]).toEqual([sap, sap === 0xfc || sap === 0xf8 ? ACCEPT_BYTES : 0]);
  });

  it('drops Ethernet II frames even when byte 14 looks like the SAP', () => {
    const prog = llcSap([0xfc]);
    expect(bpfRun(prog, llc(0xfc, 1500))).toBe(ACCEPT_BYTES);
    expect(bpfRun(prog, llc(0xfc, 1501))).toBe(0);
    expect(bpfRun(prog, llc(0xfc, 0x0800))).toBe(0);
  });

  it('builds programs with in-range jumps', () => {
    const prog = llcSap([0xfc]);
    expect(prog[prog.length - 3]).toEqual({ code: BPF_JMP | BPF_JEQ | BPF_K, jt: 1, jf: 0, k: 0xfc });
    expect(() => llcSap([256])).toThrow(RangeError);
  });
});
