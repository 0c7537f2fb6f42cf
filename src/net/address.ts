/**
 * IPv4 and MAC addresses as text: the one parser, formatter and prefix
 * arithmetic every layer uses (codecs for the strings in their objects,
 * config, leases, services, sockets). Pure: no I/O, no imports.
 *
 * Not the `ip-address` package: its Address4 costs 0.5-1.7 us per parse or
 * subnet test against ~35 ns here, and DHCP parses addresses several times
 * per request (README, "Dependencies and why").
 */

export class AddressError extends Error {
  constructor(
    readonly reason: 'address' | 'prefix' | 'mac',
    message: string,
  ) {
    super(message);
    this.name = 'AddressError';
  }
}

// ---- IPv4 -----------------------------------------------------------------

export const IPV4_ANY = '0.0.0.0';
export const IPV4_BROADCAST = '255.255.255.255';

/**
 * Dotted quad to an unsigned 32-bit number, or -1 when `s` is not exactly
 * four decimal octets 0..255 without leading zeros (which some parsers read
 * as octal). No exceptions and no allocation: it runs several times per packet.
 */
export function parseIpv4(s: string): number {
  if (typeof s !== 'string') return -1;
  const len = s.length;
  if (len < 7 || len > 15) return -1;
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  let lead = 0;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 0) lead = c;
      else if (lead === 48) return -1; // "01"
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return n * 256 + part;
}

export function isIpv4(s: string): boolean {
  return parseIpv4(s) >= 0;
}

/** parseIpv4 that throws AddressError for bad input. */
export function ipv4ToNumber(s: string): number {
  const n = parseIpv4(s);
  if (n < 0) throw new AddressError('address', `not an IPv4 address: ${JSON.stringify(s)}`);
  return n;
}

export function numberToIpv4(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new AddressError('address', `not a 32-bit address: ${n}`);
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** Prefix length -> netmask as a number: 24 -> 0xffffff00 (JS shifts are mod 32, hence /0). */
export function prefixMask(prefix: number): number {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new AddressError('prefix', `bad IPv4 prefix length ${prefix}`);
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** 24 -> '255.255.255.0'. */
export function prefixToNetmask(prefix: number): string {
  return numberToIpv4(prefixMask(prefix));
}

/** '255.255.255.0' -> 24; undefined for a mask that is not contiguous ones then zeros. */
export function netmaskToPrefix(mask: string): number | undefined {
  const n = parseIpv4(mask);
  if (n < 0) return undefined;
  const inv = ~n >>> 0;
  if ((inv & (inv + 1)) !== 0) return undefined;
  return 32 - Math.log2(inv + 1);
}

/** The network address of ip/prefix: ('10.1.2.3', 24) -> '10.1.2.0'. */
export function networkOf(ip: string, prefix: number): string {
  return numberToIpv4((ipv4ToNumber(ip) & prefixMask(prefix)) >>> 0);
}

/** The directed-broadcast address of ip/prefix: ('10.1.2.3', 24) -> '10.1.2.255'. */
export function broadcastOf(ip: string, prefix: number): string {
  return numberToIpv4((ipv4ToNumber(ip) | ~prefixMask(prefix)) >>> 0);
}

/** Is `ip` inside network/prefix? False for anything that is not an address. */
export function inPrefix(ip: string, network: string, prefix: number): boolean {
  const a = parseIpv4(ip);
  const b = parseIpv4(network);
  if (a < 0 || b < 0) return false;
  const m = prefixMask(prefix);
  return ((a & m) >>> 0) === ((b & m) >>> 0);
}

/** '10.0.0.0/24' -> { network: '10.0.0.0', prefix: 24 }; undefined when malformed. */
export function parseCidr(s: string): { network: string; prefix: number } | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!/^\d{1,2}$/.test(bits) || Number(bits) > 32 || !isIpv4(ip)) return undefined;
  return { network: ip, prefix: Number(bits) };
}

/** 127.0.0.0/8. */
export function isLoopbackIpv4(s: string): boolean {
  const n = parseIpv4(s);
  return n >= 0 && n >>> 24 === 127;
}

// ---- MAC (EUI-48) -----------------------------------------------------------

export const MAC_BITS = 48;
export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
export const ZERO_MAC = '00:00:00:00:00:00';

/**
 * The spellings accepted everywhere (config, importers, URLs, the CLI):
 * six octets of one or two hex digits separated by ':' or '-' (dnsmasq and
 * rpld write "0:60:8c:..."), twelve hex digits, or Cisco's aabb.ccdd.eeff. Case does not matter. The canonical
 * form is lower-case aa:bb:cc:dd:ee:ff.
 */
const MAC_SEP_RE = /^[0-9a-f]{1,2}(?:[:-][0-9a-f]{1,2}){5}$/i;
const MAC_BARE_RE = /^[0-9a-f]{12}$/i;
const MAC_DOT_RE = /^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/i;

function macHex(s: string): string | undefined {
  if (typeof s !== 'string') return undefined;
  if (MAC_BARE_RE.test(s)) return s.toLowerCase();
  if (MAC_DOT_RE.test(s)) return s.replace(/\./g, '').toLowerCase();
  if (MAC_SEP_RE.test(s)) {
    return s
      .split(/[:-]/)
      .map((o) => o.padStart(2, '0'))
      .join('')
      .toLowerCase();
  }
  return undefined;
}

export function isMac(s: string): boolean {
  return macHex(s) !== undefined;
}

/** Any accepted spelling -> 6 bytes; throws AddressError('mac'). */
export function parseMac(s: string): Buffer {
  const h = macHex(s);
  if (h === undefined) throw new AddressError('mac', `not a MAC address: ${JSON.stringify(s)}`);
  return Buffer.from(h, 'hex');
}

/** 6 bytes at `offset` -> canonical aa:bb:cc:dd:ee:ff. */
export function formatMac(buf: Uint8Array, offset = 0): string {
  if (offset < 0 || offset + 6 > buf.length) throw new AddressError('mac', 'MAC runs past the buffer');
  let s = '';
  for (let i = 0; i < 6; i++) {
    const b = buf[offset + i]!;
    s += (i ? ':' : '') + (b < 16 ? '0' : '') + b.toString(16);
  }
  return s;
}

/** Any accepted spelling -> canonical form; throws AddressError('mac'). */
export function normalizeMac(s: string): string {
  const h = macHex(s);
  if (h === undefined) throw new AddressError('mac', `not a MAC address: ${JSON.stringify(s)}`);
  return h.replace(/(..)(?!$)/g, '$1:');
}

/** Already aa:bb:cc:dd:ee:ff (lower-case hex): what every packet's chaddr decodes to. */
function isCanonicalMac(s: string): boolean {
  if (s.length !== 17) return false;
  for (let i = 0; i < 17; i++) {
    const c = s.charCodeAt(i);
    if (i % 3 === 2) {
      if (c !== 58) return false; // ':'
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false; // 0-9 a-f
  }
  return true;
}

/** Canonical form, or undefined when `s` is not a MAC. */
export function tryNormalizeMac(s: string): string | undefined {
  if (typeof s === 'string' && isCanonicalMac(s)) return s;
  const h = macHex(s);
  return h === undefined ? undefined : h.replace(/(..)(?!$)/g, '$1:');
}

/** Group (multicast or broadcast) address: the I/G bit of the first octet. */
export function isGroupMac(mac: string | Uint8Array): boolean {
  const b = typeof mac === 'string' ? parseMac(mac) : mac;
  return (b[0]! & 1) === 1;
}

export function isBroadcastMac(mac: string | Uint8Array): boolean {
  const b = typeof mac === 'string' ? parseMac(mac) : mac;
  for (let i = 0; i < 6; i++) if (b[i] !== 0xff) return false;
  return true;
}

/**
 * A MAC with a prefix length, as host keys write it (52:54:00:00:00:00/24):
 * all 48 bits name one machine; fewer name a vendor range or, at /0, every machine.
 */
export function isWholeMac(prefixBits: number): boolean {
  return prefixBits === MAC_BITS;
}

/** Do the first `bits` bits of `mac` equal those of `prefix`? Both in any accepted spelling. */
export function macPrefixMatch(mac: string, prefix: string, bits: number): boolean {
  if (!Number.isInteger(bits) || bits < 0 || bits > MAC_BITS) throw new AddressError('prefix', `bad MAC prefix length ${bits}`);
  const a = parseMac(mac);
  const b = parseMac(prefix);
  let i = 0;
  for (; bits >= 8; bits -= 8, i++) if (a[i] !== b[i]) return false;
  if (bits === 0) return true;
  const m = (0xff << (8 - bits)) & 0xff;
  return (a[i]! & m) === (b[i]! & m);
}

/**
 * Does `mac` start with the leading octets `prefix` (e.g. a TFTP quirk's
 * mac_prefix "00:1b:21" or "00-1B-21")? Compared on the canonical form.
 */
export function macStartsWith(mac: string, prefix: string): boolean {
  const m = tryNormalizeMac(mac);
  if (m === undefined) return false;
  return m.startsWith(prefix.toLowerCase().replace(/-/g, ':'));
}
