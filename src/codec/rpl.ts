/**
 * IBM Remote Program Load (RPL) PDUs inside IEEE 802.3 / LLC type-1 frames.
 * Pure functions: decode(frame) -> object, encode(object) -> frame (padded to
 * 60 bytes), encodingLength(object). Layouts: docs/rpl.md §2-§5.
 *
 * Every multi-byte integer is big-endian. A PDU is a "major vector"
 * (u16 program length, u16 command) followed by sub-vectors (u16 length
 * including the 4-byte header, u16 key, value); we walk them by length and
 * skip keys we do not know.
 */

import * as eth from './ethernet.js';
import { formatMac, parseMac } from '../net/address.js';
import { LLC_UI, MAX_8023_LENGTH, MIN_FRAME_LENGTH, RPL_MULTICAST_MAC } from './ethernet.js';

export const RPL_GROUP_MAC = RPL_MULTICAST_MAC;
export const SAP_RPL = 0xfc;
/** IBM's "IMPL" SAP; the NT server took SEND.FILE.REQUEST on it. */
export const SAP_LOAD = 0xf8;
export { LLC_UI };

export const CMD_FIND = 0x0001;
export const CMD_FOUND = 0x0002;
export const CMD_SEND_FILE_REQUEST = 0x0010;
export const CMD_FILE_DATA_RESPONSE = 0x0020;
export const CMD_PROGRAM_ALERT = 0x0030;

export const VEC_SEARCH = 0x0004;
export const VEC_CONNECT_INFO = 0x0008;
export const VEC_CORRELATOR = 0x4003;
export const VEC_SOURCE_MAC = 0x4006;
export const VEC_SAP = 0x4007;
export const VEC_MAX_FRAME = 0x4009;
export const VEC_CONNECT_CLASS = 0x400a;
export const VEC_RESPONSE = 0x400b;
export const VEC_DEST_MAC = 0x400c;
export const VEC_SEQUENCE = 0x4011;
export const VEC_DATA = 0x4018;
export const VEC_LOADER_INFO = 0xc005;
export const VEC_LOADER_HEADER = 0xc014;

/** FILE.DATA.RESPONSE flags (docs/rpl.md §5). */
export const FLAG_END_OF_FILE = 0x80;
export const FLAG_TRANSFER = 0x40;
export const FLAG_LOCATE = 0x20;
export const FLAG_ACK_REQUEST = 0x10;

/** Ethernet header (14) + LLC (3). */
export const RPL_HEADER_LENGTH = 17;
/** Fixed part of a FILE.DATA.RESPONSE PDU (docs/rpl.md §4.4). */
export const FDR_FIXED_LENGTH = 29;

export type RplDecodeReason =
  | 'short_frame'
  | 'not_8023'
  | 'truncated'
  | 'not_ui'
  | 'bad_program_length'
  | 'bad_vector_length'
  | 'missing_vector'
  | 'unknown_command';

/** Thrown by decode() on anything malformed; `reason` is a stable label for counters. */
export class RplDecodeError extends Error {
  constructor(
    readonly reason: RplDecodeReason,
    message: string,
  ) {
    super(message);
    this.name = 'RplDecodeError';
  }
}

/** 0xC005: 32 bytes describing the client PC (informational). */
export interface LoaderInfo {
  /** First 8 bytes of the BIOS system-configuration table. */
  machineConfig: Buffer;
  /** INT 11h equipment flags. */
  equipment: number;
  /** Free base memory in KiB as reported by the ROM. */
  memoryKiB: number;
  /** EC level of the RPL module (8 bytes). */
  ecLevel: Buffer;
  adapterId: number;
  /** Adapter EC level / short name (10 bytes). */
  adapterEc: Buffer;
}

/** Fields shared by FIND and SEND.FILE.REQUEST; all optional on decode (ROMs vary). */
export interface ClientVectors {
  maxFrame?: number;
  connectClass?: number;
  /** 0x4006: MAC of the sender. */
  sourceMac?: string;
  sap?: number;
  loaderInfo?: LoaderInfo;
}

export interface FindPdu extends ClientVectors {
  type: 'FIND';
  correlator: number;
}

export interface SendFileRequestPdu extends ClientVectors {
  type: 'SEND_FILE_REQUEST';
  sequence: number;
}

export interface FoundPdu {
  type: 'FOUND';
  correlator: number;
  response: number;
  /** 0x400C: the client being answered. */
  destMac: string;
  /** 0x4006: the server. */
  sourceMac: string;
  maxFrame: number;
  connectClass: number;
  sap: number;
}

export interface FileDataResponsePdu {
  type: 'FILE_DATA_RESPONSE';
  sequence: number;
  locate: number;
  transfer: number;
  flags: number;
  data: Buffer;
}

export interface ProgramAlertPdu {
  type: 'PROGRAM_ALERT';
  /** Layout unknown (docs/rpl.md §3.2): everything after the 4-byte program header, raw. */
  body: Buffer;
}

export type RplPdu = FindPdu | FoundPdu | SendFileRequestPdu | FileDataResponsePdu | ProgramAlertPdu;

export interface RplFrame {
  dst: string;
  src: string;
  dsap: number;
  ssap: number;
  /** LLC control; always 0x03 (UI) for RPL. */
  control?: number;
  pdu: RplPdu;
}

// ---------------------------------------------------------------- helpers

export function macToString(b: Buffer, off = 0): string {
  return formatMac(b, off);
}

export function macToBuffer(mac: string): Buffer {
  try {
    return parseMac(mac);
  } catch (e) {
    throw new eth.FrameError('mac', (e as Error).message);
  }
}

interface RawVector {
  key: number;
  /** Offset of the value in the buffer. */
  start: number;
  end: number;
}

/** Walk sub-vectors in buf[start, end); throws if a length runs past the parent. */
function walk(buf: Buffer, start: number, end: number): RawVector[] {
  const out: RawVector[] = [];
  let p = start;
  while (p < end) {
    if (end - p < 4) throw new RplDecodeError('bad_vector_length', `vector header truncated at ${p}`);
    const len = buf.readUInt16BE(p);
    const key = buf.readUInt16BE(p + 2);
    if (len < 4 || p + len > end) {
      throw new RplDecodeError('bad_vector_length', `vector 0x${key.toString(16)} length ${len} runs past its parent`);
    }
    out.push({ key, start: p + 4, end: p + len });
    p += len;
  }
  return out;
}

function fixed(buf: Buffer, v: RawVector, size: number): number {
  if (v.end - v.start !== size) {
    throw new RplDecodeError(
      'bad_vector_length',
      `vector 0x${v.key.toString(16)} has ${v.end - v.start} value bytes, expected ${size}`,
    );
  }
  return v.start;
}

function u8(buf: Buffer, v: RawVector): number {
  return buf[fixed(buf, v, 1)]!;
}
function u16(buf: Buffer, v: RawVector): number {
  return buf.readUInt16BE(fixed(buf, v, 2));
}
function u32(buf: Buffer, v: RawVector): number {
  return buf.readUInt32BE(fixed(buf, v, 4));
}
function mac(buf: Buffer, v: RawVector): string {
  return macToString(buf, fixed(buf, v, 6));
}

function decodeLoaderInfo(buf: Buffer, v: RawVector): LoaderInfo {
  const o = fixed(buf, v, 32);
  return {
    machineConfig: Buffer.from(buf.subarray(o, o + 8)),
    equipment: buf.readUInt16BE(o + 8),
    memoryKiB: buf.readUInt16BE(o + 10),
    ecLevel: Buffer.from(buf.subarray(o + 12, o + 20)),
    adapterId: buf.readUInt16BE(o + 20),
    adapterEc: Buffer.from(buf.subarray(o + 22, o + 32)),
  };
}

/** Vectors that FIND and SEND.FILE.REQUEST share; ignores unknown keys. */
function clientVector(buf: Buffer, v: RawVector, into: ClientVectors): void {
  switch (v.key) {
    case VEC_CONNECT_INFO:
      for (const s of walk(buf, v.start, v.end)) {
        if (s.key === VEC_MAX_FRAME) into.maxFrame = u16(buf, s);
        else if (s.key === VEC_CONNECT_CLASS) into.connectClass = u16(buf, s);
      }
      break;
    case VEC_SOURCE_MAC:
      into.sourceMac = mac(buf, v);
      break;
    case VEC_SAP:
      into.sap = u8(buf, v);
      break;
    case VEC_SEARCH:
      for (const s of walk(buf, v.start, v.end)) {
        if (s.key === VEC_LOADER_INFO) into.loaderInfo = decodeLoaderInfo(buf, s);
      }
      break;
  }
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new RplDecodeError('missing_vector', `missing ${what} vector`);
  return v;
}

// ---------------------------------------------------------------- decode

/**
 * Decode the RPL PDU alone (what follows the 3 LLC bytes). `pdu` must be
 * exactly the PDU (its program length must equal pdu.length).
 */
export function decodePdu(pdu: Buffer): RplPdu {
  if (pdu.length < 4) throw new RplDecodeError('truncated', 'PDU shorter than its 4-byte header');
  const plen = pdu.readUInt16BE(0);
  if (plen !== pdu.length) {
    throw new RplDecodeError('bad_program_length', `program length ${plen} != ${pdu.length} bytes after LLC`);
  }
  const command = pdu.readUInt16BE(2);
  if (command === CMD_PROGRAM_ALERT) {
    return { type: 'PROGRAM_ALERT', body: Buffer.from(pdu.subarray(4)) };
  }
  if (
    command !== CMD_FIND &&
    command !== CMD_FOUND &&
    command !== CMD_SEND_FILE_REQUEST &&
    command !== CMD_FILE_DATA_RESPONSE
  ) {
    throw new RplDecodeError('unknown_command', `unknown RPL command 0x${command.toString(16)}`);
  }
  const vectors = walk(pdu, 4, plen);
  switch (command) {
    case CMD_FIND: {
      const out: Partial<FindPdu> & ClientVectors = {};
      let correlator: number | undefined;
      for (const v of vectors) {
        if (v.key === VEC_CORRELATOR) correlator = u32(pdu, v);
        else clientVector(pdu, v, out);
      }
      return { type: 'FIND', correlator: correlator ?? 0, ...out } as FindPdu;
    }
    case CMD_SEND_FILE_REQUEST: {
      const out: ClientVectors = {};
      let sequence: number | undefined;
      for (const v of vectors) {
        if (v.key === VEC_SEQUENCE) sequence = u32(pdu, v);
        else clientVector(pdu, v, out);
      }
      return { type: 'SEND_FILE_REQUEST', sequence: need(sequence, 'sequence'), ...out };
    }
    case CMD_FOUND: {
      let correlator: number | undefined;
      let response: number | undefined;
      let destMac: string | undefined;
      let sourceMac: string | undefined;
      let maxFrame: number | undefined;
      let connectClass: number | undefined;
      let sap: number | undefined;
      for (const v of vectors) {
        switch (v.key) {
          case VEC_CORRELATOR:
            correlator = u32(pdu, v);
            break;
          case VEC_RESPONSE:
            response = u8(pdu, v);
            break;
          case VEC_DEST_MAC:
            destMac = mac(pdu, v);
            break;
          case VEC_SOURCE_MAC:
            sourceMac = mac(pdu, v);
            break;
          case VEC_SAP:
            sap = u8(pdu, v);
            break;
          case VEC_CONNECT_INFO:
            for (const s of walk(pdu, v.start, v.end)) {
              if (s.key === VEC_MAX_FRAME) maxFrame = u16(pdu, s);
              else if (s.key === VEC_CONNECT_CLASS) connectClass = u16(pdu, s);
            }
            break;
        }
      }
      return {
        type: 'FOUND',
        correlator: correlator ?? 0,
        response: response ?? 0,
        destMac: need(destMac, 'destination MAC'),
        sourceMac: need(sourceMac, 'source MAC'),
        maxFrame: need(maxFrame, 'max frame size'),
        connectClass: connectClass ?? 1,
        sap: sap ?? SAP_RPL,
      };
    }
    default: {
      // CMD_FILE_DATA_RESPONSE
      let sequence: number | undefined;
      let header: { locate: number; transfer: number; flags: number } | undefined;
      let data: Buffer | undefined;
      for (const v of vectors) {
        if (v.key === VEC_SEQUENCE) sequence = u32(pdu, v);
        else if (v.key === VEC_LOADER_HEADER) {
          const o = fixed(pdu, v, 9);
          header = { locate: pdu.readUInt32BE(o), transfer: pdu.readUInt32BE(o + 4), flags: pdu[o + 8]! };
        } else if (v.key === VEC_DATA) data = Buffer.from(pdu.subarray(v.start, v.end));
      }
      const h = need(header, 'loader header');
      return {
        type: 'FILE_DATA_RESPONSE',
        sequence: need(sequence, 'sequence'),
        locate: h.locate,
        transfer: h.transfer,
        flags: h.flags,
        data: need(data, 'file data'),
      };
    }
  }
}

/**
 * Decode a whole Ethernet frame: 802.3 header with a length field, LLC UI,
 * RPL PDU; padding beyond the 802.3 length is ignored. Does not judge SAPs
 * (the responder decides which it accepts).
 */
export function decode(frame: Buffer): RplFrame {
  if (frame.length < RPL_HEADER_LENGTH + 4) throw new RplDecodeError('short_frame', `frame of ${frame.length} bytes`);
  let f: eth.Frame;
  try {
    f = eth.decode(frame);
  } catch (e) {
    const r = e instanceof eth.FrameError ? e.reason : '';
    const reason: RplDecodeReason = r === 'type-length' ? 'not_8023' : r === 'truncated' ? 'truncated' : 'bad_program_length';
    throw new RplDecodeError(reason, (e as Error).message);
  }
  if (f.kind !== 'llc') throw new RplDecodeError('not_8023', `type/length 0x${frame.readUInt16BE(12).toString(16)} is an EtherType, not an 802.3 length`);
  if (f.control !== LLC_UI) throw new RplDecodeError('not_ui', `LLC control 0x${f.control.toString(16)} is not UI`);
  return { dst: f.dst, src: f.src, dsap: f.dsap, ssap: f.ssap, control: f.control, pdu: decodePdu(f.payload) };
}

// ---------------------------------------------------------------- encode

const LOADER_INFO_LEN = 36;
const SEARCH_LEN = 4 + LOADER_INFO_LEN;
const CONNECT_INFO_LEN = 16;

function clientVectorsLength(p: ClientVectors): number {
  let n = 0;
  if (p.maxFrame !== undefined || p.connectClass !== undefined) n += CONNECT_INFO_LEN;
  if (p.sourceMac !== undefined) n += 10;
  if (p.sap !== undefined) n += 5;
  if (p.loaderInfo !== undefined) n += SEARCH_LEN;
  return n;
}

/** Bytes of the PDU alone (the program length). */
export function pduLength(p: RplPdu): number {
  switch (p.type) {
    case 'FIND':
    case 'SEND_FILE_REQUEST':
      return 4 + 8 + clientVectorsLength(p);
    case 'FOUND':
      return 0x3a;
    case 'FILE_DATA_RESPONSE':
      return FDR_FIXED_LENGTH + p.data.length;
    case 'PROGRAM_ALERT':
      return 4 + p.body.length;
  }
}

/** Bytes encode() returns: header + LLC + PDU, padded to 60. */
export function encodingLength(f: RplFrame): number {
  return Math.max(MIN_FRAME_LENGTH, RPL_HEADER_LENGTH + pduLength(f.pdu));
}

class Writer {
  p = 0;
  constructor(readonly b: Buffer) {}
  u8(v: number) {
    this.b[this.p++] = v & 0xff;
  }
  u16(v: number) {
    this.b.writeUInt16BE(v & 0xffff, this.p);
    this.p += 2;
  }
  u32(v: number) {
    this.b.writeUInt32BE(v >>> 0, this.p);
    this.p += 4;
  }
  bytes(src: Buffer, size = src.length) {
    if (src.length > size) throw new RangeError(`field of ${src.length} bytes exceeds ${size}`);
    src.copy(this.b, this.p);
    this.p += size; // short fields stay zero-filled
  }
  mac(m: string) {
    this.bytes(macToBuffer(m), 6);
  }
  head(len: number, key: number) {
    this.u16(len);
    this.u16(key);
  }
}

function writeClientVectors(w: Writer, p: ClientVectors): void {
  if (p.maxFrame !== undefined || p.connectClass !== undefined) {
    w.head(CONNECT_INFO_LEN, VEC_CONNECT_INFO);
    w.head(6, VEC_MAX_FRAME);
    w.u16(p.maxFrame ?? MAX_8023_LENGTH);
    w.head(6, VEC_CONNECT_CLASS);
    w.u16(p.connectClass ?? 1);
  }
  if (p.sourceMac !== undefined) {
    w.head(10, VEC_SOURCE_MAC);
    w.mac(p.sourceMac);
  }
  if (p.sap !== undefined) {
    w.head(5, VEC_SAP);
    w.u8(p.sap);
  }
  if (p.loaderInfo !== undefined) {
    const li = p.loaderInfo;
    w.head(SEARCH_LEN, VEC_SEARCH);
    w.head(LOADER_INFO_LEN, VEC_LOADER_INFO);
    w.bytes(li.machineConfig, 8);
    w.u16(li.equipment);
    w.u16(li.memoryKiB);
    w.bytes(li.ecLevel, 8);
    w.u16(li.adapterId);
    w.bytes(li.adapterEc, 10);
  }
}

/** Encode the PDU alone into buf at offset (buf must have pduLength(p) bytes free). */
export function encodePdu(p: RplPdu, buf?: Buffer, offset = 0): Buffer {
  const len = pduLength(p);
  if (len > MAX_8023_LENGTH - 3) throw new RangeError(`RPL PDU of ${len} bytes exceeds the 802.3 maximum`);
  const b = buf ?? Buffer.alloc(len + offset);
  const w = new Writer(b);
  w.p = offset;
  switch (p.type) {
    case 'FIND':
      w.head(len, CMD_FIND);
      w.head(8, VEC_CORRELATOR);
      w.u32(p.correlator);
      writeClientVectors(w, p);
      break;
    case 'SEND_FILE_REQUEST':
      w.head(len, CMD_SEND_FILE_REQUEST);
      w.head(8, VEC_SEQUENCE);
      w.u32(p.sequence);
      writeClientVectors(w, p);
      break;
    case 'FOUND':
      w.head(len, CMD_FOUND);
      w.head(8, VEC_CORRELATOR);
      w.u32(p.correlator);
      w.head(5, VEC_RESPONSE);
      w.u8(p.response);
      w.head(10, VEC_DEST_MAC);
      w.mac(p.destMac);
      w.head(10, VEC_SOURCE_MAC);
      w.mac(p.sourceMac);
      w.head(CONNECT_INFO_LEN, VEC_CONNECT_INFO);
      w.head(6, VEC_MAX_FRAME);
      w.u16(p.maxFrame);
      w.head(6, VEC_CONNECT_CLASS);
      w.u16(p.connectClass);
      w.head(5, VEC_SAP);
      w.u8(p.sap);
      break;
    case 'FILE_DATA_RESPONSE':
      w.head(len, CMD_FILE_DATA_RESPONSE);
      w.head(8, VEC_SEQUENCE);
      w.u32(p.sequence);
      w.head(13, VEC_LOADER_HEADER);
      w.u32(p.locate);
      w.u32(p.transfer);
      w.u8(p.flags);
      w.head(4 + p.data.length, VEC_DATA);
      w.bytes(p.data);
      break;
    case 'PROGRAM_ALERT':
      w.head(len, CMD_PROGRAM_ALERT);
      w.bytes(p.body);
      break;
  }
  return b;
}

/** Encode a whole frame: 802.3 header, LLC UI, PDU, zero padding to 60 bytes. */
export function encode(f: RplFrame): Buffer {
  return eth.encode({ kind: 'llc', dst: f.dst, src: f.src, dsap: f.dsap, ssap: f.ssap, control: f.control ?? LLC_UI, payload: encodePdu(f.pdu) });
}
