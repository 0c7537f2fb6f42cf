/**
 * Ethernet frames as seen on an AF_PACKET SOCK_RAW socket (no preamble, no FCS):
 *
 *  - Ethernet II: dst(6) src(6) ethertype(2 >= 0x0600) payload
 *  - IEEE 802.3 + 802.2 LLC: dst(6) src(6) length(2 <= 1500) DSAP SSAP control payload [padding]
 *    where length counts LLC header + payload, never the padding (IBM RPL uses these).
 *
 * encode() pads to the 60-byte minimum: a veth does not pad, real receivers
 * (boot ROMs) may drop runts.
 */

import { formatMac, parseMac } from '../net/address.js';

/** Malformed input for any raw-frame codec; `reason` is a short label for drop counters. */
export class FrameError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

export const HEADER_LENGTH = 14;
/** Minimum frame without FCS. */
export const MIN_FRAME_LENGTH = 60;
/** Largest 802.3 length value; bigger type/length values are EtherTypes from 0x0600. */
export const MAX_8023_LENGTH = 1500;
export const MIN_ETHERTYPE = 0x0600;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;

/** IBM RPL group address for FIND frames. */
export const RPL_MULTICAST_MAC = '03:00:02:00:00:00';

/** LLC UI (unnumbered information) control byte, P/F = 0. */
export const LLC_UI = 0x03;

export interface EthernetIIFrame {
  kind: 'ethernet';
  dst: string;
  src: string;
  ethertype: number;
  /** Everything after the header, padding included (the upper layer knows its length). */
  payload: Buffer;
}

export interface LlcFrame {
  kind: 'llc';
  dst: string;
  src: string;
  dsap: number;
  ssap: number;
  /**
   * LLC control field. U-format (low two bits 11, e.g. 0x03 UI) is one byte;
   * I/S-format (LLC type 2) is two bytes, given here as a 16-bit value.
   */
  control: number;
  /** The LLC information field, padding removed. */
  payload: Buffer;
}

export type Frame = EthernetIIFrame | LlcFrame;

export interface EncodeOptions {
  /** Pad to 60 bytes (default true). */
  pad?: boolean;
}

// ---- MAC addresses (text forms live in net/address) ------------------------

function macBytes(s: string): Buffer {
  try {
    return parseMac(s);
  } catch {
    throw new FrameError('mac', `not a MAC address: ${JSON.stringify(s)}`);
  }
}

// ---- frames ---------------------------------------------------------------

function controlLength(control: number): 1 | 2 {
  if (control <= 0xff && (control & 0x03) === 0x03) return 1;
  if (control > 0xffff || ((control >> 8) & 0x03) === 0x03) {
    throw new FrameError('llc-control', `invalid LLC control 0x${control.toString(16)}`);
  }
  return 2;
}

/** Bytes encode() will produce. */
export function encodingLength(frame: Frame, opts: EncodeOptions = {}): number {
  const raw =
    frame.kind === 'ethernet'
      ? HEADER_LENGTH + frame.payload.length
      : HEADER_LENGTH + 2 + controlLength(frame.control) + frame.payload.length;
  return opts.pad === false ? raw : Math.max(raw, MIN_FRAME_LENGTH);
}

function checkByte(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new FrameError(what, `${what} must be 0..255, got ${v}`);
}

export function encode(frame: Frame, opts: EncodeOptions = {}): Buffer {
  const len = encodingLength(frame, opts);
  const buf = Buffer.alloc(len); // zero padding
  macBytes(frame.dst).copy(buf, 0);
  macBytes(frame.src).copy(buf, 6);
  if (frame.kind === 'ethernet') {
    const t = frame.ethertype;
    if (!Number.isInteger(t) || t < MIN_ETHERTYPE || t > 0xffff) {
      throw new FrameError('ethertype', `ethertype must be 0x0600..0xffff, got ${t}`);
    }
    buf.writeUInt16BE(t, 12);
    frame.payload.copy(buf, HEADER_LENGTH);
    return buf;
  }
  checkByte(frame.dsap, 'dsap');
  checkByte(frame.ssap, 'ssap');
  const cl = controlLength(frame.control);
  const length = 2 + cl + frame.payload.length;
  if (length > MAX_8023_LENGTH) throw new FrameError('too-long', `802.3 payload of ${length} bytes exceeds 1500`);
  buf.writeUInt16BE(length, 12);
  buf[14] = frame.dsap;
  buf[15] = frame.ssap;
  if (cl === 1) buf[16] = frame.control;
  else buf.writeUInt16BE(frame.control, 16);
  frame.payload.copy(buf, 14 + 2 + cl);
  return buf;
}

/**
 * Decode either framing by the type/length field. Payloads are views into
 * `buf` (copy them if you keep them past the buffer's reuse).
 */
export function decode(buf: Buffer): Frame {
  if (buf.length < HEADER_LENGTH) throw new FrameError('short', `frame of ${buf.length} bytes is shorter than 14`);
  const dst = formatMac(buf, 0);
  const src = formatMac(buf, 6);
  const tl = buf.readUInt16BE(12);
  if (tl >= MIN_ETHERTYPE) return { kind: 'ethernet', dst, src, ethertype: tl, payload: buf.subarray(HEADER_LENGTH) };
  if (tl > MAX_8023_LENGTH) throw new FrameError('type-length', `type/length 0x${tl.toString(16)} is neither`);
  if (tl < 3) throw new FrameError('llc-short', `802.3 length ${tl} is too short for an LLC header`);
  if (HEADER_LENGTH + tl > buf.length) {
    throw new FrameError('truncated', `802.3 length ${tl} runs past the ${buf.length}-byte frame`);
  }
  const dsap = buf[14];
  const ssap = buf[15];
  let control = buf[16];
  let cl = 1;
  if ((control & 0x03) !== 0x03) {
    if (tl < 4) throw new FrameError('llc-short', 'LLC type 2 control field truncated');
    control = buf.readUInt16BE(16);
    cl = 2;
  }
  return { kind: 'llc', dst, src, dsap, ssap, control, payload: buf.subarray(16 + cl, HEADER_LENGTH + tl) };
}

/** Destination MAC of a raw frame without decoding the rest. */
export function frameDst(buf: Buffer): string {
  return formatMac(buf, 0);
}

/** Source MAC of a raw frame without decoding the rest. */
export function frameSrc(buf: Buffer): string {
  return formatMac(buf, 6);
}
