import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { readdirSync } from 'node:fs';
import {
  decode,
  encode,
  encodingLength,
  RplDecodeError,
  type RplFrame,
  type FileDataResponsePdu,
} from '../../src/codec/rpl.js';
import { readPcap } from '../rpl/pcap.js';

const dir = fileURLToPath(new URL('../fixtures/rpl/vectors/', import.meta.url));
const vec = (name: string) => readPcap(dir + name)[0]!;
const CLIENT = '02:52:50:4c:00:02';
const SERVER = '02:52:50:4c:00:01';

describe('RPL codec against the vectors (docs/rpl.md §11)', () => {
  const files = readdirSync(dir).filter((f) => /^0\d-.*\.pcap$/.test(f));
  it('has all eight vectors', () => expect(files.length).toBe(8));

  for (const f of files) {
    it(`${f}: decode -> encode gives identical bytes (incl. padding)`, () => {
      const raw = vec(f);
      const d = decode(raw);
      expect(encodingLength(d)).toBe(raw.length);
      expect(encode(d).equals(raw)).toBe(true);
    });
  }

  it('all.pcap holds the same eight frames', () => {
    const all = readPcap(dir + 'all.pcap');
    expect(all.length).toBe(8);
    all.forEach((raw, i) => expect(raw.equals(vec(files[i]!))).toBe(true));
  });

  it('01 FIND fields', () => {
    const d = decode(vec('01-find.pcap'));
    expect(d).toMatchObject({ dst: '03:00:02:00:00:00', src: CLIENT, dsap: 0xfc, ssap: 0xfc, control: 3 });
    expect(d.pdu).toMatchObject({
      type: 'FIND',
      correlator: 0x1a2b3c4d,
      maxFrame: 1500,
      connectClass: 1,
      sourceMac: CLIENT,
      sap: 0xfc,
    });
    if (d.pdu.type !== 'FIND') throw new Error();
    expect(d.pdu.loaderInfo!.memoryKiB).toBe(593);
    expect(d.pdu.loaderInfo!.equipment).toBe(0x4423);
    expect(d.pdu.loaderInfo!.machineConfig.toString('hex')).toBe('0800fc0100700000');
    expect(d.pdu.loaderInfo!.adapterEc.subarray(0, 7).toString('latin1')).toBe('RPLTEST');
  });

  it('02 FOUND is produced from fields', () => {
    const f: RplFrame = {
      dst: CLIENT,
      src: SERVER,
      dsap: 0xfc,
      ssap: 0xfc,
      pdu: {
        type: 'FOUND',
        correlator: 0x1a2b3c4d,
        response: 0,
        destMac: CLIENT,
        sourceMac: SERVER,
        maxFrame: 1500,
        connectClass: 1,
        sap: 0xfc,
      },
    };
    expect(encode(f).equals(vec('02-found.pcap'))).toBe(true);
    expect(decode(vec('02-found.pcap')).pdu).toEqual(f.pdu);
  });

  it('03/06 SEND.FILE.REQUEST sequence', () => {
    expect(decode(vec('03-send-file-request.pcap')).pdu).toMatchObject({ type: 'SEND_FILE_REQUEST', sequence: 0, maxFrame: 1500, sourceMac: CLIENT });
    expect(decode(vec('06-send-file-request-resend.pcap')).pdu).toMatchObject({ type: 'SEND_FILE_REQUEST', sequence: 1 });
  });

  const fdr = (seq: number, locate: number, flags: number, data: Buffer): RplFrame => ({
    dst: CLIENT,
    src: SERVER,
    dsap: 0xfc,
    ssap: 0xfc,
    pdu: { type: 'FILE_DATA_RESPONSE', sequence: seq, locate, transfer: 0x2000, flags, data },
  });
  const range = (a: number, b: number) => Buffer.from(Array.from({ length: b - a }, (_, i) => a + i));

  it('04/05/07/08 FILE.DATA.RESPONSE encode from fields', () => {
    expect(encode(fdr(0, 0x2000, 0x20, range(0, 32))).equals(vec('04-file-data-response.pcap'))).toBe(true);
    expect(encode(fdr(1, 0x2020, 0xe0, range(32, 48))).equals(vec('05-file-data-response-final.pcap'))).toBe(true);
    expect(encode(fdr(7, 0x3c00, 0x30, Buffer.alloc(16, 0x90))).equals(vec('07-file-data-response-ackreq.pcap'))).toBe(true);
    const padded = encode(fdr(2, 0x2030, 0xe0, Buffer.from([0xeb, 0xfe, 0x90, 0x90])));
    expect(padded.length).toBe(60);
    expect(padded.equals(vec('08-file-data-response-padded.pcap'))).toBe(true);
  });

  it('08 decode ignores padding', () => {
    const p = decode(vec('08-file-data-response-padded.pcap')).pdu as FileDataResponsePdu;
    expect(p).toMatchObject({ sequence: 2, locate: 0x2030, transfer: 0x2000, flags: 0xe0 });
    expect(p.data.toString('hex')).toBe('ebfe9090');
  });
});

describe('RPL codec rejects malformed input with RplDecodeError', () => {
  const find = () => Buffer.from(readPcap(dir + '01-find.pcap')[0]!);
  const reason = (b: Buffer) => {
    try {
      decode(b);
    } catch (e) {
      expect(e).toBeInstanceOf(RplDecodeError);
      return (e as RplDecodeError).reason;
    }
    return 'ok';
  };

  it('Ethernet II type instead of length', () => {
    const b = find();
    b.writeUInt16BE(0x0800, 12);
    expect(reason(b)).toBe('not_8023');
  });
  it('802.3 length past the frame', () => {
    const b = find();
    b.writeUInt16BE(200, 12);
    expect(reason(b)).toBe('truncated');
  });
  it('program length != 802.3 length - 3', () => {
    const b = find();
    b.writeUInt16BE(0x52, 17);
    expect(reason(b)).toBe('bad_program_length');
  });
  it('vector running past its parent', () => {
    const b = find();
    b.writeUInt16BE(0x30, 17 + 0x2b); // search vector longer than the PDU
    expect(reason(b)).toBe('bad_vector_length');
  });
  it('vector length below 4', () => {
    const b = find();
    b.writeUInt16BE(2, 17 + 4);
    expect(reason(b)).toBe('bad_vector_length');
  });
  it('fixed-size vector of the wrong size', () => {
    const b = find();
    b.writeUInt16BE(5, 17 + 0x10); // max-frame sub-vector with a 1-byte value
    expect(reason(b)).toBe('bad_vector_length');
  });
  it('not UI', () => {
    const b = find();
    b[16] = 0xf3;
    expect(reason(b)).toBe('not_ui');
  });
  it('unknown command', () => {
    const b = find();
    b.writeUInt16BE(0x0099, 19);
    expect(reason(b)).toBe('unknown_command');
  });
  it('SEND.FILE.REQUEST without sequence', () => {
    const b = Buffer.from(readPcap(dir + '03-send-file-request.pcap')[0]!);
    b.writeUInt16BE(0x4099, 17 + 6); // sequence key becomes an unknown vector: skipped
    expect(reason(b)).toBe('missing_vector');
  });
  it('short frame', () => expect(reason(Buffer.alloc(10))).toBe('short_frame'));

  it('skips unknown vectors and accepts extra ones', () => {
    const f = decode(find());
    const raw = encode(f);
    // append an unknown vector (Nokia volume id style) to the PDU
    const extra = Buffer.from([0x00, 0x08, 0x40, 0x99, 1, 2, 3, 4]);
    const pduEnd = 17 + raw.readUInt16BE(17);
    const b = Buffer.concat([raw.subarray(0, pduEnd), extra]);
    b.writeUInt16BE(raw.readUInt16BE(12) + 8, 12);
    b.writeUInt16BE(raw.readUInt16BE(17) + 8, 17);
    expect(decode(b).pdu).toEqual(f.pdu);
  });

  it('PROGRAM.ALERT keeps its body raw', () => {
    const f: RplFrame = { dst: SERVER, src: CLIENT, dsap: 0xf8, ssap: 0xf8, pdu: { type: 'PROGRAM_ALERT', body: Buffer.from('00080001deadbeef', 'hex') } };
    const b = encode(f);
    expect(b.length).toBe(60);
    expect(decode(b)).toEqual({ ...f, control: 3 });
  });
});
