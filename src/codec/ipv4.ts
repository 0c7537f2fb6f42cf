/**
 * IPv4 (RFC 791) and UDP (RFC 768) for raw-frame DHCP: replies to clients that
 * have no address yet, and parsing requests read from a packet socket.
 * Checksums are the Internet checksum (RFC 1071); UDP's covers the pseudo-header.
 */
import { ETHERTYPE_IPV4, FrameError, decode as decodeEthernet, encode as encodeEthernet } from './ethernet.js';
import { parseIpv4 } from '../net/address.js';

export { FrameError };

export const IPV4_MIN_HEADER = 20;
export const UDP_HEADER = 8;
export const IPPROTO_UDP = 17;
export const DEFAULT_TTL = 64;

// ---- addresses (text forms live in net/address) ---------------------------

function ipToNumber(s: string): number {
  const n = parseIpv4(s);
  if (n < 0) throw new FrameError('address', `not an IPv4 address: ${JSON.stringify(s)}`);
  return n;
}

export function ipToBuffer(s: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(ipToNumber(s), 0);
  return b;
}

export function formatIp(buf: Uint8Array, offset = 0): string {
  if (offset < 0 || offset + 4 > buf.length) throw new FrameError('address', 'address runs past the buffer');
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

// ---- checksum -------------------------------------------------------------

/** One's-complement sum of 16-bit words, not yet complemented. */
function sum16(buf: Uint8Array, start: number, end: number, acc: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (buf[i] << 8) | buf[i + 1];
  if (i < end) acc += buf[i] << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** RFC 1071 checksum of buf[start, end); 0 when verifying a correct header. */
export function internetChecksum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  return ~fold(sum16(buf, start, end, initial)) & 0xffff;
}

function pseudoHeaderSum(src: string, dst: string, protocol: number, length: number): number {
  const s = ipToNumber(src);
  const d = ipToNumber(dst);
  return (s >>> 16) + (s & 0xffff) + (d >>> 16) + (d & 0xffff) + protocol + length;
}

// ---- IPv4 -----------------------------------------------------------------

export interface Ipv4Packet {
  src: string;
  dst: string;
  protocol: number;
  /** Type of service / DSCP+ECN byte. */
  tos?: number;
  id?: number;
  ttl?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** In 8-byte units, as on the wire. */
  fragmentOffset?: number;
  /** Raw options, padded by encode() to a multiple of 4. */
  options?: Buffer;
  payload: Buffer;
}

export interface DecodedIpv4 extends Required<Ipv4Packet> {
  headerLength: number;
  totalLength: number;
  checksum: number;
}

function optionsLength(p: { options?: Buffer }): number {
  const n = p.options?.length ?? 0;
  const padded = (n + 3) & ~3;
  if (padded > 40) throw new FrameError('ihl', `IPv4 options of ${n} bytes exceed 40`);
  return padded;
}

export function ipv4EncodingLength(p: Ipv4Packet): number {
  return IPV4_MIN_HEADER + optionsLength(p) + p.payload.length;
}

function intIn(v: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new FrameError(what, `${what} must be 0..${max}, got ${v}`);
  return v;
}

/** Write the header (checksum included) for a payload of payloadLength bytes; returns its length. */
function writeIpv4Header(p: Omit<Ipv4Packet, 'payload'>, payloadLength: number, out: Buffer, offset: number): number {
  const hl = IPV4_MIN_HEADER + optionsLength(p);
  const total = hl + payloadLength;
  if (total > 0xffff) throw new FrameError('total-length', `IPv4 packet of ${total} bytes exceeds 65535`);
  const frag =
    (p.dontFragment ? 0x4000 : 0) | (p.moreFragments ? 0x2000 : 0) | intIn(p.fragmentOffset ?? 0, 0x1fff, 'fragment');
  out[offset] = 0x40 | (hl >> 2);
  out[offset + 1] = intIn(p.tos ?? 0, 0xff, 'tos');
  out.writeUInt16BE(total, offset + 2);
  out.writeUInt16BE(intIn(p.id ?? 0, 0xffff, 'id'), offset + 4);
  out.writeUInt16BE(frag, offset + 6);
  out[offset + 8] = intIn(p.ttl ?? DEFAULT_TTL, 0xff, 'ttl');
  out[offset + 9] = intIn(p.protocol, 0xff, 'protocol');
  out.writeUInt16BE(0, offset + 10);
  ipToBuffer(p.src).copy(out, offset + 12);
  ipToBuffer(p.dst).copy(out, offset + 16);
  out.fill(0, offset + 20, offset + hl);
  p.options?.copy(out, offset + 20);
  out.writeUInt16BE(internetChecksum(out, offset, offset + hl), offset + 10);
  return hl;
}

export function encodeIpv4(p: Ipv4Packet): Buffer {
  const out = Buffer.alloc(ipv4EncodingLength(p));
  p.payload.copy(out, writeIpv4Header(p, p.payload.length, out, 0));
  return out;
}

/**
 * Decode and validate (version, IHL, total length, header checksum). The
 * payload is trimmed to the total length, so Ethernet padding falls away.
 */
export function decodeIpv4(buf: Buffer): DecodedIpv4 {
  if (buf.length < IPV4_MIN_HEADER) throw new FrameError('short', `IPv4 packet of ${buf.length} bytes`);
  const version = buf[0] >> 4;
  if (version !== 4) throw new FrameError('version', `IP version ${version}`);
  const hl = (buf[0] & 0x0f) * 4;
  if (hl < IPV4_MIN_HEADER) throw new FrameError('ihl', `IHL ${hl / 4} < 5`);
  const total = buf.readUInt16BE(2);
  if (total < hl) throw new FrameError('total-length', `total length ${total} < header length ${hl}`);
  if (total > buf.length) throw new FrameError('truncated', `total length ${total} > ${buf.length} bytes received`);
  if (internetChecksum(buf, 0, hl) !== 0) throw new FrameError('checksum', 'IPv4 header checksum mismatch');
  const frag = buf.readUInt16BE(6);
  return {
    tos: buf[1],
    totalLength: total,
    headerLength: hl,
    id: buf.readUInt16BE(4),
    dontFragment: (frag & 0x4000) !== 0,
    moreFragments: (frag & 0x2000) !== 0,
    fragmentOffset: frag & 0x1fff,
    ttl: buf[8],
    protocol: buf[9],
    checksum: buf.readUInt16BE(10),
    src: formatIp(buf, 12),
    dst: formatIp(buf, 16),
    options: buf.subarray(IPV4_MIN_HEADER, hl),
    payload: buf.subarray(hl, total),
  };
}

// ---- UDP ------------------------------------------------------------------

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

export interface DecodedUdp extends UdpDatagram {
  length: number;
  /** 0 = sender did not compute one. */
  checksum: number;
}

export function udpEncodingLength(u: UdpDatagram): number {
  return UDP_HEADER + u.payload.length;
}

function writeUdp(u: UdpDatagram, src: string, dst: string, out: Buffer, offset: number): number {
  const len = udpEncodingLength(u);
  if (len > 0xffff - IPV4_MIN_HEADER) throw new FrameError('udp-length', `UDP datagram of ${len} bytes is too long`);
  out.writeUInt16BE(intIn(u.srcPort, 0xffff, 'port'), offset);
  out.writeUInt16BE(intIn(u.dstPort, 0xffff, 'port'), offset + 2);
  out.writeUInt16BE(len, offset + 4);
  out.writeUInt16BE(0, offset + 6);
  u.payload.copy(out, offset + UDP_HEADER);
  const c = internetChecksum(out, offset, offset + len, pseudoHeaderSum(src, dst, IPPROTO_UDP, len));
  out.writeUInt16BE(c === 0 ? 0xffff : c, offset + 6); // 0 would mean "no checksum"
  return len;
}

/** UDP header + payload with the checksum over the pseudo-header for src/dst. */
export function encodeUdp(u: UdpDatagram, src: string, dst: string): Buffer {
  const out = Buffer.alloc(udpEncodingLength(u));
  writeUdp(u, src, dst, out, 0);
  return out;
}

/**
 * Decode a UDP datagram (the IPv4 payload). With src/dst the checksum is
 * verified unless the sender left it 0. The payload is trimmed to the UDP length.
 */
export function decodeUdp(buf: Buffer, src?: string, dst?: string): DecodedUdp {
  if (buf.length < UDP_HEADER) throw new FrameError('short', `UDP datagram of ${buf.length} bytes`);
  const len = buf.readUInt16BE(4);
  if (len < UDP_HEADER || len > buf.length) throw new FrameError('udp-length', `UDP length ${len} with ${buf.length} bytes`);
  const checksum = buf.readUInt16BE(6);
  if (checksum !== 0 && src !== undefined && dst !== undefined) {
    if (internetChecksum(buf, 0, len, pseudoHeaderSum(src, dst, IPPROTO_UDP, len)) !== 0) {
      throw new FrameError('udp-checksum', 'UDP checksum mismatch');
    }
  }
  return {
    srcPort: buf.readUInt16BE(0),
    dstPort: buf.readUInt16BE(2),
    length: len,
    checksum,
    payload: buf.subarray(UDP_HEADER, len),
  };
}

// ---- IPv4 + UDP, and whole Ethernet frames ------------------------------

export interface UdpPacket extends UdpDatagram {
  src: string;
  dst: string;
  tos?: number;
  id?: number;
  ttl?: number;
  dontFragment?: boolean;
}

export interface UdpFrame extends UdpPacket {
  srcMac: string;
  dstMac: string;
}

export function ipv4UdpEncodingLength(p: UdpPacket): number {
  return IPV4_MIN_HEADER + UDP_HEADER + p.payload.length;
}

export function encodeIpv4Udp(p: UdpPacket): Buffer {
  const out = Buffer.alloc(ipv4UdpEncodingLength(p));
  const hl = writeIpv4Header({ ...p, protocol: IPPROTO_UDP }, UDP_HEADER + p.payload.length, out, 0);
  writeUdp(p, p.src, p.dst, out, hl);
  return out;
}

export interface UdpDecodeOptions {
  /**
   * Verify the UDP checksum (default true). Pass false for frames whose
   * checksum the kernel marks as not filled in yet (TP_STATUS_CSUMNOTREADY:
   * veth offload, local senders); the IPv4 header checksum is always verified.
   */
  verifyChecksum?: boolean;
}

/** IPv4 carrying UDP, both validated; fragments are refused (no reassembly). */
export function decodeIpv4Udp(buf: Buffer, opts: UdpDecodeOptions = {}): { ip: DecodedIpv4; udp: DecodedUdp } {
  const ip = decodeIpv4(buf);
  if (ip.protocol !== IPPROTO_UDP) throw new FrameError('not-udp', `IP protocol ${ip.protocol}`);
  if (ip.moreFragments || ip.fragmentOffset !== 0) throw new FrameError('fragment', 'fragmented IPv4 datagram');
  const verify = opts.verifyChecksum ?? true;
  return { ip, udp: verify ? decodeUdp(ip.payload, ip.src, ip.dst) : decodeUdp(ip.payload) };
}

/** Ethernet II + IPv4 + UDP, padded to 60 bytes: a DHCP reply to a client without an address. */
export function encodeUdpFrame(f: UdpFrame): Buffer {
  return encodeEthernet({ kind: 'ethernet', dst: f.dstMac, src: f.srcMac, ethertype: ETHERTYPE_IPV4, payload: encodeIpv4Udp(f) });
}

export function udpFrameEncodingLength(f: UdpFrame): number {
  return Math.max(60, 14 + ipv4UdpEncodingLength(f));
}

/** Parse a raw frame as Ethernet II / IPv4 / UDP; throws FrameError('not-ipv4') etc. */
export function decodeUdpFrame(
  buf: Buffer,
  opts: UdpDecodeOptions = {},
): { srcMac: string; dstMac: string; ip: DecodedIpv4; udp: DecodedUdp } {
  const eth = decodeEthernet(buf);
  if (eth.kind !== 'ethernet' || eth.ethertype !== ETHERTYPE_IPV4) throw new FrameError('not-ipv4', 'not an IPv4 frame');
  const { ip, udp } = decodeIpv4Udp(eth.payload, opts);
  return { srcMac: eth.src, dstMac: eth.dst, ip, udp };
}
