import { describe, expect, it } from 'vitest';
import { decode, encode, encodingLength, TftpDecodeError, type TftpPacket } from '../../src/codec/tftp.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Vectors written from the RFC 1350/2347 layouts; the RRQ is the one EDK2 sends
// for its size probe (tsize=0 with blksize), the iPXE one asks blksize 1432 + tsize.
const vectors: Array<[string, string, TftpPacket]> = [
  [
    'RRQ octet, no options',
    '0001 7078656c696e75782e3000 6f6374657400',
    { op: 'RRQ', filename: 'pxelinux.0', mode: 'octet', options: [] },
  ],
  [
    'RRQ UEFI size probe',
    '0001 626f6f7478363400 6f6374657400 7473697a6500 3000 626c6b73697a6500 3134363800',
    { op: 'RRQ', filename: 'bootx64', mode: 'octet', options: [['tsize', '0'], ['blksize', '1468']] },
  ],
  [
    'WRQ netascii with windowsize',
    '0002 612e74787400 6e65746173636969 00 77696e646f7773697a6500 313600',
    { op: 'WRQ', filename: 'a.txt', mode: 'netascii', options: [['windowsize', '16']] },
  ],
  ['DATA block 1, 3 bytes', '0003 0001 616263', { op: 'DATA', block: 1, data: Buffer.from('abc') }],
  ['DATA empty last block', '0003 ffff', { op: 'DATA', block: 65535, data: Buffer.alloc(0) }],
  ['ACK 0', '0004 0000', { op: 'ACK', block: 0 }],
  ['ACK 65535', '0004 ffff', { op: 'ACK', block: 65535 }],
  [
    'ERROR 1',
    '0005 0001 46696c65206e6f7420666f756e6400',
    { op: 'ERROR', code: 1, message: 'File not found' },
  ],
  [
    'OACK tsize+blksize',
    '0006 7473697a6500 373030303000 626c6b73697a6500 3134333200',
    { op: 'OACK', options: [['tsize', '70000'], ['blksize', '1432']] },
  ],
];

describe('tftp codec vectors', () => {
  for (const [name, bytes, packet] of vectors) {
    it(`decodes ${name}`, () => {
      expect(decode(hex(bytes))).toEqual(packet);
    });
    it(`encodes ${name}`, () => {
      expect(encode(packet).toString('hex')).toBe(hex(bytes).toString('hex'));
      expect(encodingLength(packet)).toBe(hex(bytes).length);
    });
  }

  it('lower-cases the mode and keeps option spelling', () => {
    const p = decode(hex('0001 6100 4f4354455400 424c4b53495a4500 353132 00'));
    expect(p).toEqual({ op: 'RRQ', filename: 'a', mode: 'octet', options: [['BLKSIZE', '512']] });
  });

  it('keeps non-ASCII filename bytes through a round trip', () => {
    const raw = hex('0001 c3a9ff5c2e2e00 6f6374657400');
    expect(encode(decode(raw)).equals(raw)).toBe(true);
  });

  it('tolerates an ERROR without terminator and an ACK with padding', () => {
    expect(decode(hex('0005 0008 6162'))).toEqual({ op: 'ERROR', code: 8, message: 'ab' });
    expect(decode(hex('0004 0007 000000000000'))).toEqual({ op: 'ACK', block: 7 });
  });

  it('encodes into a caller buffer at an offset', () => {
    const buf = Buffer.alloc(10, 0xee);
    const out = encode({ op: 'ACK', block: 0x1234 }, buf, 3);
    expect(buf.toString('hex')).toBe('eeeeee00041234eeeeee');
    expect(out.length).toBe(4);
    expect(() => encode({ op: 'ACK', block: 1 }, buf, 8)).toThrow(RangeError);
  });

  const bad: Array<[string, string, string]> = [
    ['empty', '', 'short'],
    ['one byte', '00', 'short'],
    ['opcode 0', '0000 6100', 'opcode'],
    ['opcode 7', '0007', 'opcode'],
    ['opcode 0xffff', 'ffff 0000', 'opcode'],
    ['RRQ no filename terminator', '0001 6162', 'unterminated'],
    ['RRQ empty filename', '0001 00 6f6374657400', 'empty-filename'],
    ['RRQ no mode', '0001 6100', 'unterminated'],
    ['RRQ mode unterminated', '0001 6100 6f63', 'unterminated'],
    ['RRQ option without value', '0001 6100 6f6374657400 7473697a6500', 'option-pair'],
    ['RRQ option value unterminated', '0001 6100 6f6374657400 7473697a6500 30', 'unterminated'],
    ['OACK truncated', '0006 626c6b', 'unterminated'],
    ['DATA 3 bytes', '0003 00', 'short'],
    ['ACK 3 bytes', '0004 00', 'short'],
    ['ERROR 2 bytes', '0005', 'short'],
  ];
  for (const [name, bytes, reason] of bad) {
    it(`rejects ${name} with TftpDecodeError(${reason})`, () => {
      try {
        decode(hex(bytes));
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(TftpDecodeError);
        expect((e as TftpDecodeError).reason).toBe(reason);
      }
    });
  }

  it('never throws anything but TftpDecodeError on random input', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 20000; i++) {
      const len = rnd() % 40;
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = j < 2 && rnd() & 1 ? (j === 0 ? 0 : rnd() % 8) : rnd() & 1 ? 0 : rnd();
      try {
        const p = decode(b);
        // whatever decodes must re-encode to a decodable packet
        expect(decode(encode(p))).toEqual(p);
      } catch (e) {
        if (!(e instanceof TftpDecodeError)) throw e;
      }
    }
  });
});
