/**
 * TFTP packets (RFC 1350) with option extension (RFC 2347 OACK, options in
 * RRQ/WRQ). Pure: decode(buf) -> packet, encode(packet) -> Buffer,
 * encodingLength(packet). Strings are carried as latin1 so every byte of a
 * file name survives a decode/encode round trip; callers decide the charset.
 */

export const OP_RRQ = 1;
export const OP_WRQ = 2;
export const OP_DATA = 3;
export const OP_ACK = 4;
export const OP_ERROR = 5;
export const OP_OACK = 6;

/** RFC 1350 error codes (+ 8 from RFC 2347). */
export const ERR_UNDEFINED = 0;
export const ERR_NOT_FOUND = 1;
export const ERR_ACCESS = 2;
export const ERR_DISK_FULL = 3;
export const ERR_ILLEGAL_OP = 4;
export const ERR_UNKNOWN_TID = 5;
export const ERR_FILE_EXISTS = 6;
export const ERR_NO_USER = 7;
export const ERR_OPTION = 8;

export type TftpMode = 'netascii' | 'octet' | 'mail';

/** Options in wire order; names keep the client's spelling (compare case-insensitively). */
export type TftpOptions = Array<[name: string, value: string]>;

export interface RequestPacket {
  op: 'RRQ' | 'WRQ';
  filename: string;
  /** Lower-cased as sent; not validated here (the server decides). */
  mode: string;
  options: TftpOptions;
}

export interface DataPacket {
  op: 'DATA';
  /** 0..65535 on the wire (wraps past 65535). */
  block: number;
  data: Buffer;
}

export interface AckPacket {
  op: 'ACK';
  block: number;
}

export interface ErrorPacket {
  op: 'ERROR';
  code: number;
  message: string;
}

export interface OackPacket {
  op: 'OACK';
  options: TftpOptions;
}

export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

export type TftpDecodeReason =
  | 'short'
  | 'opcode'
  | 'unterminated'
  | 'option-pair'
  | 'empty-filename';

export class TftpDecodeError extends Error {
  readonly reason: TftpDecodeReason;
  constructor(reason: TftpDecodeReason, message: string) {
    super(message);
    this.name = 'TftpDecodeError';
    this.reason = reason;
  }
}

/** Read a NUL-terminated latin1 string at `off`; returns [string, offset after the NUL]. */
function cstring(buf: Buffer, off: number, what: string): [string, number] {
  const end = buf.indexOf(0, off);
  if (end < 0) throw new TftpDecodeError('unterminated', `${what} is not NUL-terminated`);
  return [buf.toString('latin1', off, end), end + 1];
}

function decodeOptions(buf: Buffer, off: number): TftpOptions {
  const options: TftpOptions = [];
  while (off < buf.length) {
    let name: string;
    let value: string;
    [name, off] = cstring(buf, off, 'option name');
    if (off >= buf.length) throw new TftpDecodeError('option-pair', `option ${JSON.stringify(name)} has no value`);
    [value, off] = cstring(buf, off, 'option value');
    options.push([name, value]);
  }
  return options;
}

export function decode(buf: Buffer): TftpPacket {
  if (buf.length < 2) throw new TftpDecodeError('short', `packet of ${buf.length} bytes`);
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case OP_RRQ:
    case OP_WRQ: {
      const [filename, o1] = cstring(buf, 2, 'filename');
      if (filename.length === 0) throw new TftpDecodeError('empty-filename', 'empty filename');
      const [mode, o2] = cstring(buf, o1, 'mode');
      return {
        op: opcode === OP_RRQ ? 'RRQ' : 'WRQ',
        filename,
        mode: mode.toLowerCase(),
        options: decodeOptions(buf, o2),
      };
    }
    case OP_DATA:
      if (buf.length < 4) throw new TftpDecodeError('short', 'DATA shorter than 4 bytes');
      return { op: 'DATA', block: buf.readUInt16BE(2), data: buf.subarray(4) };
    case OP_ACK:
      // Trailing bytes after an ACK are tolerated (some ROMs pad to a minimum frame).
      if (buf.length < 4) throw new TftpDecodeError('short', 'ACK shorter than 4 bytes');
      return { op: 'ACK', block: buf.readUInt16BE(2) };
    case OP_ERROR: {
      if (buf.length < 4) throw new TftpDecodeError('short', 'ERROR shorter than 4 bytes');
      // A missing terminator on the message is common; take the rest as the message.
      const end = buf.indexOf(0, 4);
      const message = buf.toString('latin1', 4, end < 0 ? buf.length : end);
      return { op: 'ERROR', code: buf.readUInt16BE(2), message };
    }
    case OP_OACK:
      return { op: 'OACK', options: decodeOptions(buf, 2) };
    default:
      throw new TftpDecodeError('opcode', `unknown opcode ${opcode}`);
  }
}

function optionsLength(options: TftpOptions): number {
  let n = 0;
  for (const [k, v] of options) n += Buffer.byteLength(k, 'latin1') + 1 + Buffer.byteLength(v, 'latin1') + 1;
  return n;
}

export function encodingLength(p: TftpPacket): number {
  switch (p.op) {
    case 'RRQ':
    case 'WRQ':
      return 2 + Buffer.byteLength(p.filename, 'latin1') + 1 + Buffer.byteLength(p.mode, 'latin1') + 1 + optionsLength(p.options);
    case 'DATA':
      return 4 + p.data.length;
    case 'ACK':
      return 4;
    case 'ERROR':
      return 4 + Buffer.byteLength(p.message, 'latin1') + 1;
    case 'OACK':
      return 2 + optionsLength(p.options);
  }
}

function writeCString(buf: Buffer, off: number, s: string): number {
  off += buf.write(s, off, 'latin1');
  buf[off] = 0;
  return off + 1;
}

function writeOptions(buf: Buffer, off: number, options: TftpOptions): number {
  for (const [k, v] of options) {
    off = writeCString(buf, off, k);
    off = writeCString(buf, off, v);
  }
  return off;
}

/** Encode into `buf` at `offset` (or a new buffer). Returns the bytes written view. */
export function encode(p: TftpPacket, buf?: Buffer, offset = 0): Buffer {
  const len = encodingLength(p);
  const out = buf ?? Buffer.allocUnsafe(len);
  if (out.length - offset < len) throw new RangeError(`buffer too small: need ${len} bytes`);
  let off = offset;
  switch (p.op) {
    case 'RRQ':
    case 'WRQ':
      out.writeUInt16BE(p.op === 'RRQ' ? OP_RRQ : OP_WRQ, off);
      off = writeCString(out, off + 2, p.filename);
      off = writeCString(out, off, p.mode);
      writeOptions(out, off, p.options);
      break;
    case 'DATA':
      out.writeUInt16BE(OP_DATA, off);
      out.writeUInt16BE(p.block & 0xffff, off + 2);
      p.data.copy(out, off + 4);
      break;
    case 'ACK':
      out.writeUInt16BE(OP_ACK, off);
      out.writeUInt16BE(p.block & 0xffff, off + 2);
      break;
    case 'ERROR':
      out.writeUInt16BE(OP_ERROR, off);
      out.writeUInt16BE(p.code & 0xffff, off + 2);
      writeCString(out, off + 4, p.message);
      break;
    case 'OACK':
      out.writeUInt16BE(OP_OACK, off);
      writeOptions(out, off + 2, p.options);
      break;
  }
  return out.subarray(offset, offset + len);
}

/** Hot path helper: write a DATA header (4 bytes) in place. */
export function writeDataHeader(buf: Buffer, offset: number, block: number): void {
  buf[offset] = 0;
  buf[offset + 1] = OP_DATA;
  buf[offset + 2] = (block >>> 8) & 0xff;
  buf[offset + 3] = block & 0xff;
}

/** Hot path helper: the opcode of a raw packet, or -1 when too short. */
export function peekOpcode(buf: Buffer): number {
  return buf.length < 2 ? -1 : (buf[0]! << 8) | buf[1]!;
}
