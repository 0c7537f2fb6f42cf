import { describe, expect, it } from 'vitest';
import { ARP_LENGTH, ARP_REPLY, ARP_REQUEST, decode, encode, encodingLength, probe } from '../../src/codec/arp.js';
import { FrameError, decode as decodeEthernet, encode as encodeEthernet, ETHERTYPE_ARP } from '../../src/codec/ethernet.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Whole frames, decoded by tshark 4.0.17 as "Who has 198.18.0.5? (ARP Probe)"
// and "198.18.0.5 is at 02:4c:42:00:00:02", no expert warnings.
const PROBE_FRAME = hex(`
  ff ff ff ff ff ff 02 4c 42 00 00 01 08 06 00 01 08 00 06 04 00 01 02 4c 42 00 00 01 00 00 00 00
  00 00 00 00 00 00 c6 12 00 05 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`);
const REPLY_FRAME = hex(`
  02 4c 42 00 00 01 02 4c 42 00 00 02 08 06 00 01 08 00 06 04 00 02 02 4c 42 00 00 02 c6 12 00 05
  02 4c 42 00 00 01 c6 12 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`);

describe('ARP (RFC 826)', () => {
  it('decodes a probe and a reply, padding ignored', () => {
    expect(PROBE_FRAME.length).toBe(60);
    expect(REPLY_FRAME.length).toBe(60);
    expect(decode(PROBE_FRAME, 14)).toEqual({
      op: ARP_REQUEST,
      senderMac: '02:4c:42:00:00:01',
      senderIp: '0.0.0.0',
      targetMac: '00:00:00:00:00:00',
      targetIp: '198.18.0.5',
    });
    const eth = decodeEthernet(REPLY_FRAME);
    expect(eth.kind === 'ethernet' && eth.ethertype).toBe(ETHERTYPE_ARP);
    expect(decode(eth.payload)).toEqual({
      op: ARP_REPLY,
      senderMac: '02:4c:42:00:00:02',
      senderIp: '198.18.0.5',
      targetMac: '02:4c:42:00:00:01',
      targetIp: '198.18.0.1',
    });
  });

  it('encodes the same bytes (RFC 5227 probe in an Ethernet frame)', () => {
    const p = probe('02:4c:42:00:00:01', '198.18.0.5');
    expect(encodingLength(p)).toBe(ARP_LENGTH);
    expect(encode(p)).toEqual(PROBE_FRAME.subarray(14, 14 + ARP_LENGTH));
    const frame = encodeEthernet({ kind: 'ethernet', dst: 'ff:ff:ff:ff:ff:ff', src: p.senderMac, ethertype: ETHERTYPE_ARP, payload: encode(p) });
    expect(frame).toEqual(PROBE_FRAME);
    expect(encode(decode(REPLY_FRAME, 14))).toEqual(REPLY_FRAME.subarray(14, 14 + ARP_LENGTH));
    const out = Buffer.alloc(40, 0xee);
    encode(p, out, 6);
    expect(out.subarray(6, 34)).toEqual(encode(p));
    expect(out[5]).toBe(0xee);
    expect(out[34]).toBe(0xee);
  });

  it('refuses short packets, other hardware or protocol types and bad addresses with FrameError', () => {
    expect(() => decode(PROBE_FRAME.subarray(14, 41))).toThrow(FrameError);
    const tokenRing = Buffer.from(PROBE_FRAME.subarray(14));
    tokenRing.writeUInt16BE(6, 0);
    expect(() => decode(tokenRing)).toThrow(FrameError);
    const ipv6 = Buffer.from(PROBE_FRAME.subarray(14));
    ipv6.writeUInt16BE(0x86dd, 2);
    expect(() => decode(ipv6)).toThrow(FrameError);
    const longHw = Buffer.from(PROBE_FRAME.subarray(14));
    longHw[4] = 8;
    expect(() => decode(longHw)).toThrow(FrameError);
    expect(() => encode({ ...probe('02:4c:42:00:00:01', '198.18.0.5'), targetIp: '198.18.0' })).toThrow(FrameError);
    expect(() => encode({ ...probe('02:4c:42:00:00:01', '198.18.0.5'), senderMac: 'nope' })).toThrow(FrameError);
    expect(() => encode(probe('02:4c:42:00:00:01', '198.18.0.5'), Buffer.alloc(27))).toThrow(FrameError);
  });

  it('never throws anything but FrameError on random bytes', () => {
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(PROBE_FRAME.subarray(14));
      for (let k = 0; k < 3; k++) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
      try {
        const p = decode(b.subarray(0, Math.floor(Math.random() * 40)));
        expect(encode(p).length).toBe(ARP_LENGTH);
      } catch (e) {
        expect(e).toBeInstanceOf(FrameError);
      }
    }
  });
});
