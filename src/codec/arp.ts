/**
 * ARP (RFC 826) for Ethernet and IPv4: the 28-byte packet carried in an
 * Ethernet II frame of type 0x0806. Used for the RFC 5227 address probe
 * before DHCP offers an address never leased before.
 */
import { FrameError } from './ethernet.js';
import { formatMac, parseIpv4, parseMac } from '../net/address.js';
import { formatIp } from './ipv4.js';

export const ARP_LENGTH = 28;
export const ARP_HTYPE_ETHERNET = 1;
export const ARP_PTYPE_IPV4 = 0x0800;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpPacket {
  /** ARP_REQUEST or ARP_REPLY. */
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export function encodingLength(_p?: ArpPacket): number {
  return ARP_LENGTH;
}

function macBytes(s: string): Buffer {
  try {
    return parseMac(s);
  } catch {
    throw new FrameError('mac', `not a MAC address: ${JSON.stringify(s)}`);
  }
}

function ipNumber(s: string): number {
  const n = parseIpv4(s);
  if (n < 0) throw new FrameError('address', `not an IPv4 address: ${JSON.stringify(s)}`);
  return n;
}

export function encode(p: ArpPacket, out: Buffer = Buffer.alloc(ARP_LENGTH), offset = 0): Buffer {
  if (!Number.isInteger(p.op) || p.op < 0 || p.op > 0xffff) throw new FrameError('arp-op', `ARP op must be 0..65535, got ${p.op}`);
  if (offset < 0 || offset + ARP_LENGTH > out.length) throw new FrameError('short', 'ARP packet runs past the buffer');
  out.writeUInt16BE(ARP_HTYPE_ETHERNET, offset);
  out.writeUInt16BE(ARP_PTYPE_IPV4, offset + 2);
  out[offset + 4] = 6; // hardware address length
  out[offset + 5] = 4; // protocol address length
  out.writeUInt16BE(p.op, offset + 6);
  macBytes(p.senderMac).copy(out, offset + 8);
  out.writeUInt32BE(ipNumber(p.senderIp), offset + 14);
  macBytes(p.targetMac).copy(out, offset + 18);
  out.writeUInt32BE(ipNumber(p.targetIp), offset + 24);
  return out;
}

/**
 * Decode an Ethernet/IPv4 ARP packet (trailing Ethernet padding is ignored).
 * Throws FrameError for anything shorter or for other hardware/protocol types.
 */
export function decode(buf: Buffer, offset = 0): ArpPacket {
  if (buf.length - offset < ARP_LENGTH) throw new FrameError('short', `ARP packet of ${buf.length - offset} bytes`);
  const htype = buf.readUInt16BE(offset);
  const ptype = buf.readUInt16BE(offset + 2);
  if (htype !== ARP_HTYPE_ETHERNET || ptype !== ARP_PTYPE_IPV4 || buf[offset + 4] !== 6 || buf[offset + 5] !== 4) {
    throw new FrameError('arp-type', `ARP for hardware ${htype}, protocol 0x${ptype.toString(16)}: not Ethernet/IPv4`);
  }
  return {
    op: buf.readUInt16BE(offset + 6),
    senderMac: formatMac(buf, offset + 8),
    senderIp: formatIp(buf, offset + 14),
    targetMac: formatMac(buf, offset + 18),
    targetIp: formatIp(buf, offset + 24),
  };
}

/** RFC 5227 §2.1.1 probe: a request for `ip` with sender address 0.0.0.0 and target MAC zero. */
export function probe(senderMac: string, ip: string): ArpPacket {
  return { op: ARP_REQUEST, senderMac, senderIp: '0.0.0.0', targetMac: '00:00:00:00:00:00', targetIp: ip };
}
