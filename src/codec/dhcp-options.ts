/**
 * Typed readers/writers for the DHCP options lanboot uses (RFC 2132, 3004,
 * 3046, 3397, 3442, 4578, 4173, iPXE's 175). Readers throw DhcpDecodeError on
 * malformed values; the raw bytes stay in the message either way.
 */
import { DhcpDecodeError, DhcpEncodeError, ipToInt, type DhcpOptions } from './dhcp.js';

export const OPT = {
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  ROOT_PATH: 17,
  BROADCAST: 28,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  USER_CLASS: 77,
  RELAY_AGENT: 82,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  UUID: 97,
  DOMAIN_SEARCH: 119,
  CLASSLESS_ROUTES: 121,
  IPXE: 175,
  ISCSI_INITIATOR: 203,
} as const;

/** iPXE encapsulated (175) suboptions we read or write. */
export const IPXE_SUB = {
  PRIORITY: 1,
  KEEP_SAN: 8,
  SKIP_SAN_BOOT: 9,
  NO_PXEDHCP: 176,
  BUS_ID: 177,
} as const;

/** PXE vendor-specific (43) suboptions. */
export const PXE_SUB = {
  DISCOVERY_CONTROL: 6,
  BOOT_SERVERS: 8,
  BOOT_MENU: 9,
  MENU_PROMPT: 10,
  BOOT_ITEM: 71,
} as const;

// ------------------------------------------------------------------ scalars

function need(code: number, v: Buffer, ok: boolean, what: string): void {
  if (!ok) throw new DhcpDecodeError('bad_option_value', `option ${code}: ${what} (got ${v.length} bytes)`);
}

export function readU8(opts: DhcpOptions, code: number): number | undefined {
  const v = opts.get(code);
  if (!v) return undefined;
  need(code, v, v.length === 1, '1 byte expected');
  return v[0];
}

export function readU16(opts: DhcpOptions, code: number): number | undefined {
  const v = opts.get(code);
  if (!v) return undefined;
  need(code, v, v.length === 2, '2 bytes expected');
  return v.readUInt16BE(0);
}

export function readU32(opts: DhcpOptions, code: number): number | undefined {
  const v = opts.get(code);
  if (!v) return undefined;
  need(code, v, v.length === 4, '4 bytes expected');
  return v.readUInt32BE(0);
}

export function readIp(opts: DhcpOptions, code: number): string | undefined {
  const v = opts.get(code);
  if (!v) return undefined;
  need(code, v, v.length === 4, '4 bytes expected');
  return `${v[0]}.${v[1]}.${v[2]}.${v[3]}`;
}

export function readIps(opts: DhcpOptions, code: number): string[] | undefined {
  const v = opts.get(code);
  if (!v) return undefined;
  need(code, v, v.length % 4 === 0 && v.length > 0, 'multiple of 4 bytes expected');
  const out: string[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(`${v[i]}.${v[i + 1]}.${v[i + 2]}.${v[i + 3]}`);
  return out;
}

/** Text options: NUL bytes at the end are dropped (some clients terminate strings). */
export function readString(opts: DhcpOptions, code: number): string | undefined {
  const v = opts.get(code);
  if (!v) return undefined;
  let end = v.length;
  while (end > 0 && v[end - 1] === 0) end--;
  return v.toString('latin1', 0, end);
}

export function u8(n: number): Buffer {
  return Buffer.from([n & 255]);
}
export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
export function ip(addr: string): Buffer {
  return u32(ipToInt(addr));
}
export function ips(addrs: string[]): Buffer {
  return Buffer.concat(addrs.map(ip));
}
export function str(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

// ------------------------------------------------------------ option 55, 93

export function readParameterList(opts: DhcpOptions): number[] {
  const v = opts.get(OPT.PARAMETER_LIST);
  return v ? [...v] : [];
}

/** Option 93 (RFC 4578): list of u16 architecture types. */
export function readClientArch(opts: DhcpOptions): number[] | undefined {
  const v = opts.get(OPT.CLIENT_ARCH);
  if (!v) return undefined;
  need(OPT.CLIENT_ARCH, v, v.length % 2 === 0 && v.length > 0, 'list of u16 expected');
  const out: number[] = [];
  for (let i = 0; i < v.length; i += 2) out.push(v.readUInt16BE(i));
  return out;
}

export function clientArch(list: number[]): Buffer {
  return Buffer.concat(list.map(u16));
}

/** Option 94 (RFC 4578): type 1 (UNDI), major, minor. */
export function readClientNdi(opts: DhcpOptions): { type: number; major: number; minor: number } | undefined {
  const v = opts.get(OPT.CLIENT_NDI);
  if (!v) return undefined;
  need(OPT.CLIENT_NDI, v, v.length === 3, '3 bytes expected');
  return { type: v[0]!, major: v[1]!, minor: v[2]! };
}

/** Option 97 (RFC 4578): type 0 + 16-byte GUID. Returns the GUID as lower-case hex. */
export function readUuid(opts: DhcpOptions): string | undefined {
  const v = opts.get(OPT.UUID);
  if (!v) return undefined;
  need(OPT.UUID, v, v.length === 17 && v[0] === 0, 'type 0 + 16 bytes expected');
  return v.subarray(1).toString('hex');
}

// ---------------------------------------------------------------- option 77

/**
 * Option 77. RFC 3004 defines a list of length-prefixed strings; iPXE (and
 * others) send one bare string. Heuristic: if the bytes parse exactly as a
 * 3004 list of non-empty strings, use that, else it is one bare string.
 * ("iPXE" as 3004 would need a first byte 0x69 = 105 > remaining, so it is bare.)
 */
export function decodeUserClasses(v: Buffer): string[] {
  if (v.length === 0) return [];
  const list: string[] = [];
  let i = 0;
  let ok = true;
  while (i < v.length) {
    const n = v[i]!;
    if (n === 0 || i + 1 + n > v.length) {
      ok = false;
      break;
    }
    list.push(v.toString('latin1', i + 1, i + 1 + n));
    i += 1 + n;
  }
  if (ok) return list;
  return [v.toString('latin1').replace(/\0+$/, '')];
}

export function readUserClasses(opts: DhcpOptions): string[] | undefined {
  const v = opts.get(OPT.USER_CLASS);
  return v ? decodeUserClasses(v) : undefined;
}

/** RFC 3004 encoding (length-prefixed list). */
export function userClassesRfc3004(list: string[]): Buffer {
  return Buffer.concat(
    list.map((s) => {
      const b = Buffer.from(s, 'latin1');
      if (b.length === 0 || b.length > 255) throw new DhcpEncodeError('user class must be 1..255 bytes');
      return Buffer.concat([Buffer.from([b.length]), b]);
    }),
  );
}

// -------------------------------------------------------- encapsulated (43, 175)

/**
 * Encapsulated suboptions (vendor-specific 43 with PXE, iPXE 175): code,len,value
 * with pad (0) and end (255). Repeated codes are concatenated.
 */
export function decodeSuboptions(v: Buffer, code: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let i = 0;
  while (i < v.length) {
    const c = v[i]!;
    if (c === 0) {
      i++;
      continue;
    }
    if (c === 255) break;
    if (i + 1 >= v.length) throw new DhcpDecodeError('bad_suboption', `option ${code}.${c}: length missing`);
    const n = v[i + 1]!;
    if (i + 2 + n > v.length) throw new DhcpDecodeError('bad_suboption', `option ${code}.${c}: truncated`);
    const val = v.subarray(i + 2, i + 2 + n);
    const prev = out.get(c);
    out.set(c, prev ? Buffer.concat([prev, val]) : Buffer.from(val));
    i += 2 + n;
  }
  return out;
}

/** Encode suboptions, with a trailing end (255) when `end` is set (PXE 43 wants it). */
export function encodeSuboptions(subs: Map<number, Buffer> | Array<[number, Buffer]>, end = false): Buffer {
  const parts: Buffer[] = [];
  for (const [c, val] of subs) {
    if (val.length > 255) throw new DhcpEncodeError(`suboption ${c} longer than 255 bytes`);
    parts.push(Buffer.from([c, val.length]), val);
  }
  if (end) parts.push(Buffer.from([255]));
  return Buffer.concat(parts);
}

export function readIpxeOptions(opts: DhcpOptions): Map<number, Buffer> | undefined {
  const v = opts.get(OPT.IPXE);
  return v ? decodeSuboptions(v, OPT.IPXE) : undefined;
}

export function readPxeOptions(opts: DhcpOptions): Map<number, Buffer> | undefined {
  const v = opts.get(OPT.VENDOR_SPECIFIC);
  return v ? decodeSuboptions(v, OPT.VENDOR_SPECIFIC) : undefined;
}

// ---------------------------------------------------------------- option 82

/** Option 82 (RFC 3046): suboptions (1 circuit-id, 2 remote-id, ...); kept raw for echoing. */
export function readRelayAgent(opts: DhcpOptions): Map<number, Buffer> | undefined {
  const v = opts.get(OPT.RELAY_AGENT);
  return v ? decodeSuboptions(v, OPT.RELAY_AGENT) : undefined;
}

// -------------------------------------------------------- 119 domain search

/** RFC 3397: DNS names in wire format, compression pointers allowed within the option. */
export function decodeDomainSearch(v: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < v.length) {
    const labels: string[] = [];
    let p = i;
    let jumped = false;
    let hops = 0;
    for (;;) {
      if (p >= v.length) throw new DhcpDecodeError('bad_option_value', 'option 119: name runs past the end');
      const n = v[p]!;
      if (n === 0) {
        if (!jumped) i = p + 1;
        break;
      }
      if ((n & 0xc0) === 0xc0) {
        if (p + 1 >= v.length) throw new DhcpDecodeError('bad_option_value', 'option 119: truncated pointer');
        const target = ((n & 0x3f) << 8) | v[p + 1]!;
        if (!jumped) i = p + 2;
        jumped = true;
        if (++hops > 64 || target >= v.length) throw new DhcpDecodeError('bad_option_value', 'option 119: bad pointer');
        p = target;
        continue;
      }
      if (n > 63 || p + 1 + n > v.length) throw new DhcpDecodeError('bad_option_value', 'option 119: bad label');
      labels.push(v.toString('latin1', p + 1, p + 1 + n));
      p += 1 + n;
    }
    out.push(labels.join('.'));
  }
  return out;
}

/** Encodes without compression (valid per RFC 3397, only longer). */
export function encodeDomainSearch(names: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const name of names) {
    for (const label of name.split('.').filter(Boolean)) {
      const b = Buffer.from(label, 'latin1');
      if (b.length > 63) throw new DhcpEncodeError(`DNS label too long: ${label}`);
      parts.push(Buffer.from([b.length]), b);
    }
    parts.push(Buffer.from([0]));
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------- 121 classless routes

export interface ClasslessRoute {
  /** "10.0.0.0/8" */
  destination: string;
  router: string;
}

export function decodeClasslessRoutes(v: Buffer): ClasslessRoute[] {
  const out: ClasslessRoute[] = [];
  let i = 0;
  while (i < v.length) {
    const width = v[i]!;
    if (width > 32) throw new DhcpDecodeError('bad_option_value', 'option 121: prefix > 32');
    const n = Math.ceil(width / 8);
    if (i + 1 + n + 4 > v.length) throw new DhcpDecodeError('bad_option_value', 'option 121: truncated');
    const d = [0, 0, 0, 0];
    for (let k = 0; k < n; k++) d[k] = v[i + 1 + k]!;
    const r = v.subarray(i + 1 + n, i + 5 + n);
    out.push({ destination: `${d.join('.')}/${width}`, router: `${r[0]}.${r[1]}.${r[2]}.${r[3]}` });
    i += 5 + n;
  }
  return out;
}

export function encodeClasslessRoutes(routes: ClasslessRoute[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of routes) {
    const [addr, w] = r.destination.split('/');
    const width = Number(w);
    if (!Number.isInteger(width) || width < 0 || width > 32) throw new DhcpEncodeError(`bad route ${r.destination}`);
    const d = ip(addr!);
    parts.push(Buffer.from([width]), d.subarray(0, Math.ceil(width / 8)), ip(r.router));
  }
  return Buffer.concat(parts);
}

// ------------------------------------------------------------ client id

/**
 * Client identity for lease lookup (RFC 2131 §4.2): option 61 if present
 * (hex of its bytes, binary-safe), else htype + chaddr. A client-id that is
 * just htype + chaddr (udhcpc, iPXE, perfdhcp) IS the hardware identity, so it
 * maps to the same key as no client-id: a machine whose boot stages differ
 * only in sending it keeps one lease.
 */
export function clientKey(opts: DhcpOptions, htype: number, chaddrHex: string): string {
  const id = opts.get(OPT.CLIENT_ID);
  if (id && id.length > 0) {
    if (id[0] === htype && id.length > 1 && id.toString('hex', 1) === chaddrHex) return `hw:${htype.toString(16).padStart(2, '0')}:${chaddrHex}`;
    return 'id:' + id.toString('hex');
  }
  return `hw:${htype.toString(16).padStart(2, '0')}:${chaddrHex}`;
}
