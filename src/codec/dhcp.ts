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

const ZERO_IP = '0.0.0.0';

export function ipToString(buf: Buffer, off: number): string {
  const a = buf[off]!;
  const b = buf[off + 1]!;
  const c = buf[off + 2]!;
  const d = buf[off + 3]!;
  // Most header addresses of a request are 0.0.0.0: no new string for them.
  if ((a | b | c | d) === 0) return ZERO_IP;
  return `${a}.${b}.${c}.${d}`;
}

/** Dotted quad to u32 for encoding; DhcpEncodeError when it is not one (strings are net/address's). */
export function ipToInt(ip: string): number {
  const n = parseIpv4(ip);
  if (n < 0) throw new DhcpEncodeError(`not an IPv4 address: ${JSON.stringify(ip)}`);
  return n;
}

export function writeIp(buf: Buffer, off: number, ip: string): void {
  buf.writeUInt32BE(ip === ZERO_IP ? 0 : ipToInt(ip), off);
}

/** Two lower-case hex digits per byte value. */
const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case colon MAC of the first `hlen` bytes of chaddr. */
export function chaddrToMac(msg: Pick<DhcpMessage, 'chaddr' | 'hlen'>): string {
  const n = Math.min(Math.max(msg.hlen, 0), 16, msg.chaddr.length);
  const c = msg.chaddr;
  if (n === 6) return `${HEX2[c[0]!]}:${HEX2[c[1]!]}:${HEX2[c[2]!]}:${HEX2[c[3]!]}:${HEX2[c[4]!]}:${HEX2[c[5]!]}`;
  let out = '';
  for (let i = 0; i < n; i++) out += (i ? ':' : '') + HEX2[c[i]!];
  return out;
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
 * Parse one option area into `into`; a code seen again is appended to the
 * earlier value (RFC 3396). Returns true when an END option was seen. Pads are
 * skipped. Values are views of `buf`, not copies.
 */
function parseOptionArea(buf: Buffer, start: number, end: number, into: DhcpOptions, where: string): boolean {
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
    const value = buf.subarray(i + 2, i + 2 + len);
    const prev = into.get(code);
    into.set(code, prev ? Buffer.concat([prev, value]) : value);
    i += 2 + len;
  }
  // RFC 2131 requires END, but many clients pad to the end of the buffer or
  // stop right after the last option; accept both (the options parsed are whole).
  return false;
}

/**
 * Decode one message. The result shares memory with `buf` (option values and
 * chaddr are views into it): do not reuse the buffer while the message is in use.
 */
export function decode(buf: Buffer): DhcpMessage {
  if (!Buffer.isBuffer(buf)) throw new DhcpDecodeError('not_a_buffer');
  if (buf.length < HEADER_LENGTH) throw new DhcpDecodeError('short', `message is ${buf.length} bytes, header needs ${HEADER_LENGTH}`);
  const op = buf[0]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) throw new DhcpDecodeError('bad_op', `op ${op}`);
  const hlen = buf[2]!;
  if (hlen > 16) throw new DhcpDecodeError('bad_hlen', `hlen ${hlen} > 16`);
  if (buf.readUInt32BE(236) !== MAGIC_COOKIE) throw new DhcpDecodeError('no_magic_cookie');

  const options: DhcpOptions = new Map();
  parseOptionArea(buf, HEADER_LENGTH, buf.length, options, 'options');

  let sname = buf[44] === 0 ? '' : readCString(buf, 44, 64);
  let file = buf[108] === 0 ? '' : readCString(buf, 108, 128);
  const overload = options.get(OPT_OVERLOAD);
  if (overload) {
    if (overload.length !== 1 || overload[0]! < 1 || overload[0]! > 3) throw new DhcpDecodeError('bad_overload', 'option 52 must be one byte 1..3');
    // RFC 2131 §4.1: options field first, then file, then sname.
    if (overload[0]! & 1) {
      parseOptionArea(buf, 108, 236, options, 'file');
      file = '';
    }
    if (overload[0]! & 2) {
      parseOptionArea(buf, 44, 108, options, 'sname');
      sname = '';
    }
    options.delete(OPT_OVERLOAD);
  }

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
    chaddr: buf.subarray(28, 44),
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

/**
 * Options as two parallel lists (codes, values): no [code, value] pair per
 * option and per reply (they were most of what encoding allocated).
 */
interface Entries {
  codes: number[];
  values: Buffer[];
}

const noEntries = (): Entries => ({ codes: [], values: [] });
/** The empty file/sname areas of a layout without overload; only ever read. */
const NONE: Entries = Object.freeze({ codes: Object.freeze([]) as unknown as number[], values: Object.freeze([]) as unknown as Buffer[] });

/** Option entries in map order; the overload option itself is computed, never taken from the map. */
function optionEntries(msg: DhcpMessage): Entries {
  const e = noEntries();
  msg.options.forEach((value, code) => {
    if (code === OPT_PAD || code === OPT_END || code === OPT_OVERLOAD) return;
    if (!Number.isInteger(code) || code < 1 || code > 254) throw new DhcpEncodeError(`bad option code ${code}`);
    if (!Buffer.isBuffer(value)) throw new DhcpEncodeError(`option ${code}: value must be a Buffer`);
    e.codes.push(code);
    e.values.push(value);
  });
  return e;
}

interface Layout {
  /** Options per area. */
  main: Entries;
  file: Entries;
  sname: Entries;
  overload: number;
  length: number;
}

/** Per option code: its index in the entries being ordered, -1 otherwise (reset after each use). */
const slot = new Int16Array(256).fill(-1);

/** Move the entry of `code` (if any, and not taken yet) from `from` to the end of `out`. */
function take(from: Entries, out: Entries, code: number): void {
  const i = slot[code]!;
  if (i >= 0) {
    out.codes.push(code);
    out.values.push(from.values[i]!);
    slot[code] = -1;
  }
}

/** RFC 2132 §9.8 order: 53, 54, the requested ones in the client's order, the rest in map order, 82 last. */
function orderByRequest(entries: Entries, requested: readonly number[] | Uint8Array): Entries {
  const codes = entries.codes;
  for (let i = 0; i < codes.length; i++) slot[codes[i]!] = i;
  const out = noEntries();
  take(entries, out, 53);
  take(entries, out, 54);
  for (let k = 0; k < requested.length; k++) {
    const code = requested[k]!;
    if (code !== 53 && code !== 54 && code !== OPT_RELAY_AGENT && code >= 0 && code < 256) take(entries, out, code);
  }
  for (let i = 0; i < codes.length; i++) if (codes[i] !== OPT_RELAY_AGENT && slot[codes[i]!] !== -1) take(entries, out, codes[i]!);
  take(entries, out, OPT_RELAY_AGENT);
  return out;
}

function layout(msg: DhcpMessage, opts: EncodeOptions): Layout {
  let entries = optionEntries(msg);
  if (opts.requested === undefined) {
    const r = place(msg, entries, opts);
    if (r.error) throw r.error;
    return r.layout;
  }
  entries = orderByRequest(entries, opts.requested);
  let requested: Set<number> | undefined;
  const dropped: number[] = [];
  for (;;) {
    const r = place(msg, entries, opts);
    if (r.layout) {
      if (dropped.length) opts.onDrop?.(dropped);
      return r.layout;
    }
    // Drop the last option nobody asked for, and try again.
    requested ??= new Set(opts.requested);
    let i = entries.codes.length - 1;
    while (i >= 0 && (requested.has(entries.codes[i]!) || KEEP_ALWAYS.has(entries.codes[i]!))) i--;
    if (i < 0) throw r.error;
    dropped.push(entries.codes[i]!);
    entries = { codes: entries.codes.filter((_, j) => j !== i), values: entries.values.filter((_, j) => j !== i) };
  }
}

/** Lay options out in the options field, then file, then sname; an error when they do not fit. */
function place(msg: DhcpMessage, entries: Entries, opts: EncodeOptions): { layout: Layout; error?: undefined } | { layout?: undefined; error: DhcpEncodeError } {
  const minLength = opts.minLength ?? (msg.op === BOOTREPLY ? BOOTP_MIN_LENGTH : 0);
  const values = entries.values;
  let total = 0;
  for (let i = 0; i < values.length; i++) total += optionWireLength(values[i]!);
  const maxLength = opts.maxLength;
  let mainLen = HEADER_LENGTH + total + 1; // + END
  if (maxLength === undefined || mainLen <= maxLength) {
    return { layout: { main: entries, file: NONE, sname: NONE, overload: 0, length: Math.max(mainLen, minLength) } };
  }
  // Overflow: keep options in order; fill the options field (leaving room for
  // option 52 and END), then file (128 incl. END), then sname (64 incl. END).
  const areas: Array<{ cap: number; list: Entries; usable: boolean }> = [
    { cap: maxLength - HEADER_LENGTH - 3 - 1, list: noEntries(), usable: true },
    { cap: 128 - 1, list: noEntries(), usable: msg.file === '' },
    { cap: 64 - 1, list: noEntries(), usable: msg.sname === '' },
  ];
  let a = 0;
  let used = 0;
  for (let i = 0; i < values.length; i++) {
    const len = optionWireLength(values[i]!);
    while (a < areas.length && (!areas[a]!.usable || used + len > areas[a]!.cap)) {
      a++;
      used = 0;
    }
    if (a >= areas.length) return { error: new DhcpEncodeError(`options do not fit in ${maxLength} bytes`) };
    areas[a]!.list.codes.push(entries.codes[i]!);
    areas[a]!.list.values.push(values[i]!);
    used += len;
  }
  const overload = (areas[1]!.list.codes.length ? 1 : 0) | (areas[2]!.list.codes.length ? 2 : 0);
  const mainBytes = areas[0]!.list.values.reduce((n, v) => n + optionWireLength(v), 0);
  mainLen = HEADER_LENGTH + mainBytes + (overload ? 3 : 0) + 1;
  return { layout: { main: areas[0]!.list, file: areas[1]!.list, sname: areas[2]!.list, overload, length: Math.max(mainLen, minLength) } };
}

function writeOptions(buf: Buffer, off: number, list: Entries): number {
  const { codes, values } = list;
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i]!;
    const value = values[i]!;
    if (value.length === 0) {
      buf[off++] = code;
      buf[off++] = 0;
      continue;
    }
    if (value.length <= 255) {
      buf[off++] = code;
      buf[off++] = value.length;
      off += value.copy(buf, off);
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
  if (s.length === 0) return;
  // latin1: one byte per UTF-16 unit, so the length is known without encoding.
  if (s.length > cap) throw new DhcpEncodeError(`${field} longer than ${cap} bytes`);
  buf.write(s, off, s.length, 'latin1');
}

export function encodingLength(msg: DhcpMessage, opts: EncodeOptions = {}): number {
  return layout(msg, opts).length;
}

export function encode(msg: DhcpMessage, opts: EncodeOptions = {}): Buffer {
  const l = layout(msg, opts);
  // From Node's pool (no ArrayBuffer per reply); zeroed: padding, sname and file are NULs.
  const buf = Buffer.allocUnsafe(l.length).fill(0);
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
