import { describe, expect, it } from 'vitest';
import {
  FrameError,
  decode,
  encode,
  encodingLength,
  frameDst,
  frameSrc,
  type Frame,
} from '../../src/codec/ethernet.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// test/fixtures/rpl/vectors (checked by tshark 4.0.17's RPL dissector).
const RPL_FIND = hex(`
  03 00 02 00 00 00 02 52 50 4c 00 02 00 56 fc fc 03 00 53 00 01 00 08 40 03 1a 2b 3c 4d 00 10 00
  08 00 06 40 09 05 dc 00 06 40 0a 00 01 00 0a 40 06 02 52 50 4c 00 02 00 05 40 07 fc 00 28 00 04
  00 24 c0 05 08 00 fc 01 00 70 00 00 44 23 02 51 01 00 00 00 00 00 00 00 00 00 52 50 4c 54 45 53
  54 00 00 00`);
const RPL_FOUND = hex(`
  02 52 50 4c 00 02 02 52 50 4c 00 01 00 3d fc fc 03 00 3a 00 02 00 08 40 03 1a 2b 3c 4d 00 05 40
  0b 00 00 0a 40 0c 02 52 50 4c 00 02 00 0a 40 06 02 52 50 4c 00 01 00 10 00 08 00 06 40 09 05 dc
  00 06 40 0a 00 01 00 05 40 07 fc`);
// 802.3 length 36: 33 PDU bytes then 9 bytes of padding up to 60 (vector 08).
const RPL_PADDED = hex(`
  02 52 50 4c 00 02 02 52 50 4c 00 01 00 24 fc fc 03 00 21 00 20 00 08 40 11 00 00 00 02 00 0d c0
  14 00 00 20 30 00 00 20 00 e0 00 08 40 18 eb fe 90 90 00 00 00 00 00 00 00 00 00 00`);
// udhcpc DHCPDISCOVER captured with tshark on a veth (first 20 bytes of IP).
const DHCP_DISCOVER_HEAD = hex('ffffffffffff020000000a0108004500014800000000401179a600000000ffffffff');

describe('IEEE 802.3 + LLC', () => {
  it('decodes the RPL FIND vector', () => {
    const f = decode(RPL_FIND);
    expect(f.kind).toBe('llc');
    if (f.kind !== 'llc') return;
    expect(f).toMatchObject({ dst: '03:00:02:00:00:00', src: '02:52:50:4c:00:02', dsap: 0xfc, ssap: 0xfc, control: 0x03 });
    expect(f.payload.length).toBe(0x56 - 3);
    expect(f.payload.readUInt16BE(0)).toBe(0x53); // RPL program length = 802.3 length - 3
  });

  it('round-trips FIND and FOUND byte for byte', () => {
    for (const v of [RPL_FIND, RPL_FOUND]) {
      const f = decode(v);
      expect(encodingLength(f)).toBe(v.length);
      expect(encode(f)).toEqual(v);
    }
  });

  it('finds the end from the length field and ignores padding', () => {
    const f = decode(RPL_PADDED);
    expect(f.kind === 'llc' && f.payload.length).toBe(0x24 - 3);
    expect(encode(f)).toEqual(RPL_PADDED); // re-padded to 60 with zeros
  });

  it('pads short frames to 60 bytes unless asked not to', () => {
    const f: Frame = { kind: 'llc', dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', dsap: 0xfc, ssap: 0xfc, control: 3, payload: hex('0004 0001') };
    const padded = encode(f);
    expect(padded.length).toBe(60);
    expect(padded.readUInt16BE(12)).toBe(3 + 4);
    expect(padded.subarray(21).every((b) => b === 0)).toBe(true);
    expect(encode(f, { pad: false }).length).toBe(21);
    expect(encodingLength(f, { pad: false })).toBe(21);
  });

  it('handles the two-byte control field of LLC type 2 I/S frames', () => {
    const f: Frame = { kind: 'llc', dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', dsap: 0x04, ssap: 0x04, control: 0x0102, payload: hex('aa') };
    const b = encode(f, { pad: false });
    expect(b.subarray(12).toString('hex')).toBe('0005' + '0404' + '0102' + 'aa');
    expect(decode(b)).toMatchObject({ control: 0x0102, payload: hex('aa') });
  });

  it('rejects lengths that run past the frame, are too short, or are not lengths', () => {
    const trunc = Buffer.from(RPL_FOUND.subarray(0, 40));
    expect(() => decode(trunc)).toThrow(expect.objectContaining({ reason: 'truncated' }));
    const short = Buffer.from(RPL_FOUND);
    short.writeUInt16BE(2, 12);
    expect(() => decode(short)).toThrow(expect.objectContaining({ reason: 'llc-short' }));
    const odd = Buffer.from(RPL_FOUND);
    odd.writeUInt16BE(0x05f0, 12); // 1520: neither length nor EtherType
    expect(() => decode(odd)).toThrow(expect.objectContaining({ reason: 'type-length' }));
    expect(() => decode(hex('0102030405060708090a0b0c00'))).toThrow(expect.objectContaining({ reason: 'short' }));
  });

  it('refuses to encode invalid fields', () => {
    const base = { kind: 'llc' as const, dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', dsap: 0xfc, ssap: 0xfc, control: 3, payload: Buffer.alloc(0) };
    expect(() => encode({ ...base, dsap: 256 })).toThrow(FrameError);
    expect(() => encode({ ...base, dst: 'nope' })).toThrow(FrameError);
    expect(() => encode({ ...base, payload: Buffer.alloc(1498) })).toThrow(expect.objectContaining({ reason: 'too-long' }));
    expect(encode({ ...base, payload: Buffer.alloc(1497) }).readUInt16BE(12)).toBe(1500);
  });
});

describe('Ethernet II', () => {
  it('decodes the captured DHCPDISCOVER header', () => {
    const f = decode(DHCP_DISCOVER_HEAD);
    expect(f).toMatchObject({ kind: 'ethernet', dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:0a:01', ethertype: 0x0800 });
    expect(f.payload).toEqual(DHCP_DISCOVER_HEAD.subarray(14));
    expect(frameDst(DHCP_DISCOVER_HEAD)).toBe('ff:ff:ff:ff:ff:ff');
    expect(frameSrc(DHCP_DISCOVER_HEAD)).toBe('02:00:00:00:0a:01');
  });

  it('encodes header, payload and padding', () => {
    const f: Frame = { kind: 'ethernet', dst: 'FF-FF-FF-FF-FF-FF', src: '0200.0000.0a01', ethertype: 0x88b5, payload: Buffer.from('hi') };
    const b = encode(f);
    expect(b.length).toBe(60);
    expect(b.subarray(0, 16).toString('hex')).toBe('ffffffffffff020000000a0188b56869');
    expect(encode({ ...f, payload: Buffer.alloc(100) }).length).toBe(114);
    expect(() => encode({ ...f, ethertype: 0x05dc })).toThrow(expect.objectContaining({ reason: 'ethertype' }));
  });

  it('never throws anything but FrameError on random input', () => {
    let seed = 12345;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
    const bad: unknown[] = [];
    let llc = 0;
    for (let i = 0; i < 20000; i++) {
      const b = Buffer.alloc(rnd() % 80);
      for (let j = 0; j < b.length; j++) b[j] = rnd() & 0xff;
      if (b.length >= 14) b.writeUInt16BE(i % 4 ? rnd() % (b.length - 10) : rnd() % 1600, 12);
      try {
        const f = decode(b);
        if (f.kind === 'llc') {
          llc++;
          if (16 + f.payload.length > b.length) bad.push(b.toString('hex'));
        }
      } catch (e) {
        if (!(e instanceof FrameError)) bad.push(e);
      }
    }
    expect(bad).toEqual([]);
    expect(llc).toBeGreaterThan(100); // the fuzz reached the LLC path
  });
});
