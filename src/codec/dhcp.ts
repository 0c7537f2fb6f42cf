/**
 * DHCPv4 message codec (RFC 2131 header, RFC 2132 options, RFC 3396 long
 * options, option overload 52). Pure functions in the dns-packet style:
 * `decode(buf)`, `encode(msg)`, `encodingLength(msg)`.
 *
 * Options are an ordered Map<code, Buffer>: one entry per option code, the
 * value being the concatenation of every instance (RFC 3396). Unknown options
 * stay raw bytes and are re-encoded as they came. Typed helpers live in
 * ./dhcp-options.js.
 */
import { parseIpv4 } from '../net/address.js';

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const MAGIC_COOKIE = 0x63825363;
/** Fixed header (236) + magic cookie (4). */
export const HEADER_LENGTH = 240;
/** RFC 951/1542: BOOTP messages are at least 300 bytes; some relays and ROMs drop shorter ones. */
export const BOOTP_MIN_LENGTH = 300;
/** RFC 2131: every client must accept 576-byte IP datagrams => 548 bytes of DHCP. */
export const DEFAULT_MAX_MESSAGE = 576 - 20 - 8;

/** Option 53 values. */
export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

export const MESSAGE_TYPE_NAMES: Record<number, string> = {
  1: 'DISCOVER', 2: 'OFFER', 3: 'REQUEST', 4: 'DECLINE', 5: 'ACK', 6: 'NAK', 7: 'RELEASE', 8: 'INFORM',
};

export const OPT_PAD = 0;
export const OPT_OVERLOAD = 52;
export const OPT_END = 255;

/** Flags bit 15 (RFC 2131 figure 2). */
export const FLAG_BROADCAST = 0x8000;

export type DhcpOptions = Map<number, Buffer>;

export interface DhcpMessage {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The full 16-byte chaddr field; the hardware address is its first `hlen` bytes. */
  chaddr: Buffer;
  /** Server host name (NUL-terminated text), '' when unused or overloaded. */
  sname: string;
  /** Boot file name (NUL-terminated text), '' when unused or overloaded. */
  file: string;
  options: DhcpOptions;
}

export class DhcpDecodeError extends Error {
  constructor(
    /** Short machine-friendly reason, used as a metrics label. */
    readonly reason: string,
    message?: string,
  ) {
    super(message ?? reason);
    this.name = 'DhcpDecodeError';
  }
}

export class DhcpEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DhcpEncodeError';
  }
}

export interface EncodeOptions {
  /**
   * Pad the message to at least this many bytes. Default 300 (BOOTP minimum)
   * for replies (op 2), none for requests.
   */
  minLength?: number;
  /**
   * Largest message the receiver accepts (its option 57, else 548). When the
   * options do not fit, they overflow into `file` and then `sname` (option 52)
   * if those fields are unused.
   */
  maxLength?: number;
  /**
   * The client's parameter request list (its option 55), for replies. When
   * given, options go out as 53, 54, then in the order requested (RFC 2132
   * §9.8), then the rest, 82 last (RFC 3046); and if they do not fit even with
   * overload, options the client did not request are dropped (last first)
   * instead of failing the whole reply.
   */
  requested?: readonly number[] | Uint8Array;
  /** Called with the option codes dropped to make the reply fit. */
  onDrop?: (codes: number[]) => void;
}

/** Never dropped to make a reply fit: message type, server id, lease time (RFC 2131 table 3), client-id (RFC 6842), relay info (RFC 3046). */
const KEEP_ALWAYS = new Set([53, 54, 51, 61, 82]);
const OPT_RELAY_AGENT = 82;

// ---------------------------------------------------------------- addresses

export function ipToString(buf: Buffer, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** Dotted quad to u32 for encoding; DhcpEncodeError when it is not one (strings are net/address's). */
export function ipToInt(ip: string): number {
  const n = parseIpv4(ip);
  if (n < 0) throw new DhcpEncodeError(`not an IPv4 address: ${JSON.stringify(ip)}`);
  return n;
}

export function writeIp(buf: Buffer, off: number, ip: string): void {
  buf.writeUInt32BE(ipToInt(ip), off);
}

/** Lower-case colon MAC of the first `hlen` bytes of chaddr. */
export function chaddrToMac(msg: Pick<DhcpMessage, 'chaddr' | 'hlen'>): string {
  const n = Math.min(Math.max(msg.hlen, 0), 16);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(msg.chaddr[i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

export function macToChaddr(mac: string): Buffer {
  const out = Buffer.alloc(16);
  const hex = mac.split(/[:-]/);
  if (hex.length > 16) throw new DhcpEncodeError(`hardware address too long: ${mac}`);
  hex.forEach((h, i) => {
    const v = parseInt(h, 16);
    if (!/^[0-9a-fA-F]{1,2}$/.test(h)) throw new DhcpEncodeError(`bad hardware address: ${mac}`);
    out[i] = v;
  });
  return out;
}

// ---------------------------------------------------------------- decoding

function readCString(buf: Buffer, off: number, len: number): string {
  let end = off;
  const stop = off + len;
  while (end < stop && buf[end] !== 0) end++;
  return buf.toString('latin1', off, end);
}

/**
 * Parse one option area into `into`, concatenating repeated codes (RFC 3396).
 * Returns true when an END option was seen. Pads are skipped.
 */
function parseOptionArea(buf: Buffer, start: number, end: number, into: Map<number, Buffer[]>, where: string): boolean {
  let i = start;
  while (i < end) {
    const code = buf[i]!;
    if (code === OPT_PAD) {
      i++;
      continue;
    }
    if (code === OPT_END) return true;
    if (i + 1 >= end) throw new DhcpDecodeError('truncated_option', `option ${code} in ${where}: length byte missing`);
    const len = buf[i + 1]!;
    if (i + 2 + len > end) throw new DhcpDecodeError('truncated_option', `option ${code} in ${where}: ${len} bytes announced, ${end - i - 2} left`);
    const list = into.get(code);
    const value = buf.subarray(i + 2, i + 2 + len);
    if (list) list.push(value);
    else into.set(code, [value]);
    i += 2 + len;
  }
  // RFC 2131 requires END, but many clients pad to the end of the buffer or
  // stop right after the last option; accept both (the options parsed are whole).
  return false;
}

export function decode(buf: Buffer): DhcpMessage {
  if (!Buffer.isBuffer(buf)) throw new DhcpDecodeError('not_a_buffer');
  if (buf.length < HEADER_LENGTH) throw new DhcpDecodeError('short', `message is ${buf.length} bytes, header needs ${HEADER_LENGTH}`);
  const op = buf[0]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) throw new DhcpDecodeError('bad_op', `op ${op}`);
  const hlen = buf[2]!;
  if (hlen > 16) throw new DhcpDecodeError('bad_hlen', `hlen ${hlen} > 16`);
  if (buf.readUInt32BE(236) !== MAGIC_COOKIE) throw new DhcpDecodeError('no_magic_cookie');

  const raw = new Map<number, Buffer[]>();
  parseOptionArea(buf, HEADER_LENGTH, buf.length, raw, 'options');

  let sname = readCString(buf, 44, 64);
  let file = readCString(buf, 108, 128);
  const overload = raw.get(OPT_OVERLOAD);
  if (overload) {
    const v = overload[0]!;
    if (v.length !== 1 || v[0]! < 1 || v[0]! > 3) throw new DhcpDecodeError('bad_overload', 'option 52 must be one byte 1..3');
    // RFC 2131 §4.1: options field first, then file, then sname.
    if (v[0]! & 1) {
      parseOptionArea(buf, 108, 236, raw, 'file');
      file = '';
    }
    if (v[0]! & 2) {
      parseOptionArea(buf, 44, 108, raw, 'sname');
      sname = '';
    }
    raw.delete(OPT_OVERLOAD);
  }

  const options: DhcpOptions = new Map();
  for (const [code, parts] of raw) options.set(code, parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts));

  return {
    op,
    htype: buf[1]!,
    hlen,
    hops: buf[3]!,
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: ipToString(buf, 12),
    yiaddr: ipToString(buf, 16),
    siaddr: ipToString(buf, 20),
    giaddr: ipToString(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname,
    file,
    options,
  };
}

// ---------------------------------------------------------------- encoding

/** Bytes one option takes on the wire, split in 255-byte instances (RFC 3396). */
function optionWireLength(value: Buffer): number {
  if (value.length === 0) return 2;
  const n = Math.ceil(value.length / 255);
  return value.length + 2 * n;
}

/** Option entries in encoding order; the overload option itself is computed, never taken from the map. */
function optionEntries(msg: DhcpMessage): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  for (const [code, value] of msg.options) {
    if (code === OPT_PAD || code === OPT_END || code === OPT_OVERLOAD) continue;
    if (!Number.isInteger(code) || code < 1 || code > 254) throw new DhcpEncodeError(`bad option code ${code}`);
    if (!Buffer.isBuffer(value)) throw new DhcpEncodeError(`option ${code}: value must be a Buffer`);
    out.push([code, value]);
  }
  return out;
}

interface Layout {
  /** Options per area. */
  main: Array<[number, Buffer]>;
  file: Array<[number, Buffer]>;
  sname: Array<[number, Buffer]>;
  overload: number;
  length: number;
}

/** RFC 2132 §9.8 order: 53, 54, the requested ones in the client's order, the rest, 82 last. */
function orderByRequest(entries: Array<[number, Buffer]>, requested: readonly number[] | Uint8Array): Array<[number, Buffer]> {
  const rank = new Map<number, number>();
  requested.forEach((code, i) => {
    if (!rank.has(code)) rank.set(code, i);
  });
  const group = (code: number) =>
    code === 53 ? 0 : code === 54 ? 1 : code === OPT_RELAY_AGENT ? 4 : rank.has(code) ? 2 : 3;
  // Stable: within "the rest", map order is kept.
  return entries
    .map((e, i) => ({ e, i, g: group(e[0]) }))
    .sort((a, b) => a.g - b.g || (a.g === 2 ? rank.get(a.e[0])! - rank.get(b.e[0])! : a.i - b.i))
    .map((x) => x.e);
}

function layout(msg: DhcpMessage, opts: EncodeOptions): Layout {
  let entries = optionEntries(msg);
  if (opts.requested === undefined) {
    const r = place(msg, entries, opts);
    if (r.error) throw r.error;
    return r.layout;
  }
  entries = orderByRequest(entries, opts.requested);
  const requested = new Set(opts.requested);
  const dropped: number[] = [];
  for (;;) {
    const r = place(msg, entries, opts);
    if (r.layout) {
      if (dropped.length) opts.onDrop?.(dropped);
      return r.layout;
    }
    // Drop the last option nobody asked for, and try again.
    let i = entries.length - 1;
    while (i >= 0 && (requested.has(entries[i]![0]) || KEEP_ALWAYS.has(entries[i]![0]))) i--;
    if (i < 0) throw r.error;
    dropped.push(entries[i]![0]);
    entries = entries.filter((_, j) => j !== i);
  }
}

/** Lay options out in the options field, then file, then sname; an error when they do not fit. */
function place(msg: DhcpMessage, entries: Array<[number, Buffer]>, opts: EncodeOptions): { layout: Layout; error?: undefined } | { layout?: undefined; error: DhcpEncodeError } {
  const minLength = opts.minLength ?? (msg.op === BOOTREPLY ? BOOTP_MIN_LENGTH : 0);
  const total = entries.reduce((n, [, v]) => n + optionWireLength(v), 0);
  const maxLength = opts.maxLength;
  let mainLen = HEADER_LENGTH + total + 1; // + END
  if (maxLength === undefined || mainLen <= maxLength) {
    return { layout: { main: entries, file: [], sname: [], overload: 0, length: Math.max(mainLen, minLength) } };
  }
  // Overflow: keep options in order; fill the options field (leaving room for
  // option 52 and END), then file (128 incl. END), then sname (64 incl. END).
  const areas: Array<{ cap: number; list: Array<[number, Buffer]>; usable: boolean }> = [
    { cap: maxLength - HEADER_LENGTH - 3 - 1, list: [], usable: true },
    { cap: 128 - 1, list: [], usable: msg.file === '' },
    { cap: 64 - 1, list: [], usable: msg.sname === '' },
  ];
  let a = 0;
  let used = 0;
  for (const e of entries) {
    const len = optionWireLength(e[1]);
    while (a < areas.length && (!areas[a]!.usable || used + len > areas[a]!.cap)) {
      a++;
      used = 0;
    }
    if (a >= areas.length) return { error: new DhcpEncodeError(`options do not fit in ${maxLength} bytes`) };
    areas[a]!.list.push(e);
    used += len;
  }
  const overload = (areas[1]!.list.length ? 1 : 0) | (areas[2]!.list.length ? 2 : 0);
  const mainBytes = areas[0]!.list.reduce((n, [, v]) => n + optionWireLength(v), 0);
  mainLen = HEADER_LENGTH + mainBytes + (overload ? 3 : 0) + 1;
  return { layout: { main: areas[0]!.list, file: areas[1]!.list, sname: areas[2]!.list, overload, length: Math.max(mainLen, minLength) } };
}

function writeOptions(buf: Buffer, off: number, list: Array<[number, Buffer]>): number {
  for (const [code, value] of list) {
    if (value.length === 0) {
      buf[off++] = code;
      buf[off++] = 0;
      continue;
    }
    for (let p = 0; p < value.length; p += 255) {
      const chunk = value.subarray(p, Math.min(p + 255, value.length));
      buf[off++] = code;
      buf[off++] = chunk.length;
      chunk.copy(buf, off);
      off += chunk.length;
    }
  }
  return off;
}

function writeCString(buf: Buffer, off: number, cap: number, s: string, field: string): void {
  const b = Buffer.from(s, 'latin1');
  if (b.length > cap) throw new DhcpEncodeError(`${field} longer than ${cap} bytes`);
  b.copy(buf, off);
}

export function encodingLength(msg: DhcpMessage, opts: EncodeOptions = {}): number {
  return layout(msg, opts).length;
}

export function encode(msg: DhcpMessage, opts: EncodeOptions = {}): Buffer {
  const l = layout(msg, opts);
  const buf = Buffer.alloc(l.length);
  buf[0] = msg.op;
  buf[1] = msg.htype;
  buf[2] = msg.hlen;
  buf[3] = msg.hops;
  buf.writeUInt32BE(msg.xid >>> 0, 4);
  buf.writeUInt16BE(msg.secs & 0xffff, 8);
  buf.writeUInt16BE(msg.flags & 0xffff, 10);
  writeIp(buf, 12, msg.ciaddr);
  writeIp(buf, 16, msg.yiaddr);
  writeIp(buf, 20, msg.siaddr);
  writeIp(buf, 24, msg.giaddr);
  if (msg.chaddr.length > 16) throw new DhcpEncodeError('chaddr longer than 16 bytes');
  msg.chaddr.copy(buf, 28);
  if (l.overload & 2) {
    const end = writeOptions(buf, 44, l.sname);
    buf[end] = OPT_END;
  } else writeCString(buf, 44, 63, msg.sname, 'sname');
  if (l.overload & 1) {
    const end = writeOptions(buf, 108, l.file);
    buf[end] = OPT_END;
  } else writeCString(buf, 108, 127, msg.file, 'file');
  buf.writeUInt32BE(MAGIC_COOKIE, 236);
  let off = HEADER_LENGTH;
  if (l.overload) {
    buf[off++] = OPT_OVERLOAD;
    buf[off++] = 1;
    buf[off++] = l.overload;
  }
  off = writeOptions(buf, off, l.main);
  buf[off] = OPT_END;
  return buf;
}

/** A fresh reply skeleton for `req` (op 2, same xid/flags/giaddr/chaddr). */
export function replyTo(req: DhcpMessage): DhcpMessage {
  return {
    op: BOOTREPLY,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    flags: req.flags,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: req.giaddr,
    chaddr: Buffer.from(req.chaddr),
    sname: '',
    file: '',
    options: new Map(),
  };
}

export function messageType(msg: DhcpMessage): number | undefined {
  const v = msg.options.get(53);
  return v && v.length === 1 ? v[0] : undefined;
}
