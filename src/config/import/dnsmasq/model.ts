/**
 * Stage 3: directives into dnsmasq's own tables (what option.c builds):
 * ranges, hosts, dhcp-boot rules, pxe-service entries, the tag sources
 * (dhcp-match, -vendorclass, -userclass, -mac, tag-if) and options. Lines
 * with no bearing on DHCP boot answers (DNS, logging) or that lanboot cannot
 * carry get a warning here; everything that decides an answer is kept as
 * dnsmasq reads it, malformed parts included, so stage 5 can tell what
 * dnsmasq really does with them.
 */
import { isIpv4 as isIpv4String, normalizeMac } from '../../../net/address.js';
import type { ImportWarning } from '../types.js';
import type { Directive } from './parse.js';

export interface Cond {
  name: string;
  neg: boolean;
}

export interface Range {
  line: number;
  kind: 'pool' | 'proxy' | 'static';
  start: string;
  end?: string;
  netmask?: string;
  /** Seconds, 'infinite', or undefined (dnsmasq's default hour). */
  lease?: number | 'infinite';
  /** The tag set for clients of this range (dnsmasq keeps one: the last). */
  tag?: string;
  conds: Cond[];
}

export interface Host {
  line: number;
  macs: string[];
  ip?: string;
  name?: string;
  sets: string[];
  ignore: boolean;
}

export interface Boot {
  line: number;
  conds: Cond[];
  file: string;
  sname?: string;
  /** Next server given as an address. */
  server?: string;
  /** Next server given as a name (dnsmasq looks it up in /etc/hosts). */
  tftpName?: string;
  /** A token dnsmasq reads as the file name although it is meant as a tag ("!tag:x"); imported as meant. */
  misreadTag?: string;
}

export interface Service {
  line: number;
  conds: Cond[];
  csa: number;
  menu: string;
  /** Boot file base name; absent = local boot (type 0) or another boot server type. */
  basename?: string;
  type: number;
  server?: string;
  sname?: string;
}

/** A dhcp-match value as parse_dhcp_opt() encodes it. */
export interface MatchValue {
  bytes: Buffer;
  /** Hex with colons: left-anchored, '*' bytes are wildcards. */
  hex: boolean;
  wildcard: boolean[];
  /** Substring match stepping one byte (strings) or whole elements (numbers). */
  step: number;
}

export interface Match {
  line: number;
  tag: string;
  code: number;
  value?: MatchValue;
}

export interface ClassMatch {
  line: number;
  tag: string;
  kind: 'vendor' | 'user';
  data: Buffer;
}

export interface MacMatch {
  line: number;
  tag: string;
  /** null = wildcard byte */
  bytes: Array<number | null>;
}

export interface TagIf {
  line: number;
  sets: string[];
  conds: Cond[];
}

export interface Opt {
  line: number;
  code: number;
  conds: Cond[];
  values: string[];
  force: boolean;
  /** vendor:CLASS options (encapsulated in 43 for that vendor class). */
  vendor?: string;
  /** encap:N options (encapsulated in option N). */
  encap?: number;
}

export interface Model {
  interfaces: string[];
  /** except-interface and no-dhcp-interface: interfaces DHCP is not served on. */
  exceptInterfaces: string[];
  /** listen-address lines (other than loopback). */
  listenAddresses: Array<{ line: number; address: string }>;
  ranges: Range[];
  hosts: Host[];
  boots: Boot[];
  services: Service[];
  prompt?: { line: number; conds: Cond[]; text: string; timeout: number };
  matches: Match[];
  classes: ClassMatch[];
  macTags: MacMatch[];
  tagIfs: TagIf[];
  options: Opt[];
  ignores: Array<{ line: number; conds: Cond[] }>;
  pxeVendors: string[];
  /** pxe-service or pxe-prompt present: dnsmasq's PXE code runs at all. */
  enablePxe: boolean;
  noOverride: boolean;
  domain?: string;
  tftp: { enabled: boolean; enableLine: number; root?: string; rootLine: number; settings: Record<string, unknown> };
  /** Tags set by sources lanboot cannot see (circuit id ...), by tag. */
  opaque: Map<string, number>;
}

/** How dnsmasq spells a MAC in dhcp-host (its grammar; net/address normalises it). */
const MAC = /^[0-9a-f]{1,2}([:-][0-9a-f]{1,2}){5}$/i;
const DURATION = /^(\d+)([smhdw]?)$/i;
export const isIpv4 = (s: string | undefined): boolean => s !== undefined && isIpv4String(s);

/** dnsmasq's option names (dnsmasq --help dhcp) for the codes people write by name. */
export const OPTION_NAMES: Record<string, number> = {
  netmask: 1, 'time-offset': 2, router: 3, 'dns-server': 6, 'log-server': 7, 'lpr-server': 9,
  hostname: 12, 'boot-file-size': 13, 'domain-name': 15, 'swap-server': 16, 'root-path': 17,
  'extension-path': 18, 'ip-forward-enable': 19, 'default-ttl': 23, mtu: 26, broadcast: 28,
  'router-discovery': 31, 'static-route': 33, 'arp-timeout': 35, 'tcp-ttl': 37, 'nis-domain': 40,
  'nis-server': 41, 'ntp-server': 42, 'vendor-encap': 43, 'netbios-ns': 44, 'netbios-dd': 45,
  'netbios-nodetype': 46, 'netbios-scope': 47, 'lease-time': 51, 'server-identifier': 54,
  message: 56, t1: 58, t2: 59, 'vendor-class': 60, 'client-id': 61, 'tftp-server': 66,
  'bootfile-name': 67, 'smtp-server': 69, 'pop3-server': 70, 'user-class': 77, 'client-arch': 93,
  'client-interface-id': 94, 'client-machine-id': 97, 'posix-timezone': 100, 'tzdb-timezone': 101,
  'domain-search': 119, 'sip-server': 120, 'classless-static-route': 121, 'vendor-id-encap': 125,
  'tftp-server-address': 150, 'server-ip-address': 255,
};
/** Options whose numbers dnsmasq encodes at a fixed width (its option table). */
const OPTION_WIDTH: Record<number, number> = { 2: 4, 13: 2, 19: 1, 22: 2, 23: 1, 26: 2, 35: 4, 46: 1, 93: 2 };

/** pxe-service client system types, in dnsmasq's numbering (its names for 7 and 9 follow RFC 4578's errata). */
const CSA = ['x86pc', 'pc98', 'ia64_efi', 'alpha', 'arc_x86', 'intel_lean_client', 'ia32_efi', 'x86-64_efi', 'xscale_efi', 'bc_efi', 'arm32_efi', 'arm64_efi'];

/** Lines with no effect on a netboot server, or whose effect lanboot has anyway. */
const HARMLESS = new Set([
  'log-dhcp', 'log-queries', 'log-facility', 'bind-interfaces', 'bind-dynamic', 'keep-in-foreground', 'no-daemon',
  'dhcp-authoritative', 'pid-file', 'leasefile-ro', 'quiet-dhcp', 'user', 'group', 'dhcp-lease-max', 'read-ethers',
  'dhcp-leasefile', 'conf-file', 'conf-dir',
]);

/** DNS-side options: lanboot serves no DNS. */
const DNS_KEYS = new Set([
  'server', 'address', 'local', 'domain-needed', 'bogus-priv', 'no-resolv', 'no-poll', 'no-hosts',
  'addn-hosts', 'cache-size', 'resolv-file', 'strict-order', 'all-servers', 'expand-hosts',
  'local-ttl', 'neg-ttl', 'max-ttl', 'host-record', 'cname', 'mx-host', 'srv-host', 'txt-record',
  'ptr-record', 'dnssec', 'trust-anchor', 'stop-dns-rebind', 'rebind-localhost-ok', 'local-service',
  'filterwin2k', 'log-async', 'dns-forward-max', 'min-port', 'query-port', 'edns-packet-max', 'ipset',
  'nftset', 'server-file', 'rev-server', 'auth-server', 'auth-zone', 'localise-queries', 'dns-loop-detect',
]);

function leaseValue(tok: string): number | undefined {
  const m = DURATION.exec(tok);
  if (!m) return undefined;
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]!.toLowerCase() as 's'];
}

/** "tag:x", "tag:!x", old "net:x" and "#x" negation: a condition. */
function parseCond(tok: string): Cond | undefined {
  const m = /^(tag|net):(.*)$/i.exec(tok);
  if (!m) return undefined;
  const n = m[2]!;
  if (n.startsWith('!') || n.startsWith('#')) return { name: n.slice(1), neg: true };
  return { name: n, neg: false };
}

/** dnsmasq's dhcp_tags(): the leading tag:/net: tokens (set: too where a line sets tags). */
function takeTags(args: string[], netIsSet = false): { conds: Cond[]; sets: string[]; rest: string[] } {
  const conds: Cond[] = [];
  const sets: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (/^set:/i.test(a)) sets.push(a.slice(4));
    else if (netIsSet && /^net:/i.test(a)) sets.push(a.slice(4));
    else {
      const c = parseCond(a);
      if (!c) break;
      conds.push(c);
    }
  }
  return { conds, sets, rest: args.slice(i) };
}

/** set_prefix(): the tag a dhcp-match/-userclass/-vendorclass/-mac line sets ("set:x", "net:x" or bare "x"). */
function setterTag(a: string | undefined): string | undefined {
  if (!a || /^tag:/i.test(a)) return undefined;
  return /^(set|net):/i.test(a) ? a.slice(4) : a;
}

/** parse_dhcp_opt()'s reading of a match value: hex with colons, a number at the option's width, or text. */
export function matchValue(code: number, raw: string): MatchValue {
  const hexish = /^[0-9a-f*]{1,2}(:[0-9a-f*]{1,2})+$/i.test(raw);
  if (hexish) {
    const parts = raw.split(':');
    return {
      bytes: Buffer.from(parts.map((p) => (p.includes('*') ? 0 : parseInt(p, 16)))),
      hex: true,
      wildcard: parts.map((p) => p.includes('*')),
      step: 1,
    };
  }
  const dec = /^(\d+)([bsi])?$/.exec(raw);
  if (dec) {
    const v = Number(dec[1]);
    const width = dec[2] ? { b: 1, s: 2, i: 4 }[dec[2] as 'b'] : (OPTION_WIDTH[code] ?? (v > 0xffff ? 4 : v > 0xff ? 2 : 1));
    const b = Buffer.alloc(width);
    b.writeUIntBE(v % 2 ** (8 * width), 0, width);
    return { bytes: b, hex: false, wildcard: [], step: width };
  }
  return { bytes: Buffer.from(raw, 'latin1'), hex: false, wildcard: [], step: 1 };
}

function optionCode(tok: string): number | undefined {
  const o = tok.toLowerCase();
  if (/^\d+$/.test(o)) return Number(o);
  if (o.startsWith('option:')) return OPTION_NAMES[o.slice(7)];
  return undefined;
}

export function buildModel(dirs: Directive[], warnings: ImportWarning[]): Model {
  const warn = (line: number, message: string) => warnings.push({ line, message });
  const m: Model = {
    interfaces: [], exceptInterfaces: [], listenAddresses: [], ranges: [], hosts: [], boots: [], services: [], matches: [], classes: [], macTags: [], tagIfs: [],
    options: [], ignores: [], pxeVendors: [], enablePxe: false, noOverride: false,
    tftp: { enabled: false, enableLine: 0, rootLine: 0, settings: {} }, opaque: new Map(),
  };
  let boottype = 0x8000;

  for (const d of dirs) {
    const { line, key, args } = d;
    const v = d.value;
    switch (key) {
      case 'interface':
        if (!v) warn(line, 'interface= without a name');
        for (const a of args) {
          if (!a || m.interfaces.includes(a)) continue;
          if (/[*?]/.test(a)) warn(line, `interface pattern ${a}: lanboot lists interfaces by name; not carried over (without names it serves every interface with an address in a subnet)`);
          else m.interfaces.push(a);
        }
        break;
      case 'except-interface':
      case 'no-dhcp-interface':
        for (const a of args) {
          if (!a || a === 'lo' || m.exceptInterfaces.includes(a)) continue; // lanboot never serves loopback with packet sockets
          if (/[*?]/.test(a)) warn(line, `${key} pattern ${a}: lanboot lists interfaces by name; not carried over`);
          else m.exceptInterfaces.push(a);
        }
        break;
      case 'listen-address':
        for (const a of args) if (a && a !== '127.0.0.1' && a !== '::1') m.listenAddresses.push({ line, address: a });
        break;
      case 'port':
        if (v !== '0') warn(line, 'port: lanboot serves no DNS; not carried over');
        break;
      case 'domain':
        // dnsmasq's domain= is also DHCP option 15 for its ranges.
        if (args[0] && args.length === 1) m.domain = args[0];
        else warn(line, 'domain= with a subnet/range qualifier: not carried over; set dhcp.subnets[].domain');
        break;

      case 'dhcp-range': {
        const { conds, sets, rest: r0 } = takeTags(args, true);
        let rest = r0;
        // Old syntax: a bare network-id before the start address sets that tag.
        if (rest.length > 1 && /^[a-z_][\w.-]*$/i.test(rest[0]!) && isIpv4(rest[1])) {
          sets.push(rest[0]!);
          rest = rest.slice(1);
        }
        const start = rest[0] ?? '';
        if (start.includes(':') || /^constructor:/i.test(start)) {
          warn(line, 'IPv6 range: lanboot serves DHCPv4 only; not carried over');
          break;
        }
        if (!isIpv4(start)) {
          warn(line, `dhcp-range: cannot read start address "${start}"; not carried over`);
          break;
        }
        const r: Range = { line, kind: 'pool', start, conds, tag: sets[sets.length - 1] };
        let i = 1;
        const second = rest[1]?.toLowerCase();
        if (second === 'proxy' || second === 'static') {
          r.kind = second;
          i = 2;
        } else if (isIpv4(second)) {
          r.end = second;
          i = 2;
        } else r.kind = 'static';
        const ips: string[] = [];
        for (; i < rest.length; i++) {
          const t = rest[i]!;
          if (isIpv4(t)) ips.push(t);
          else if (t.toLowerCase() === 'infinite') r.lease = 'infinite';
          else if (leaseValue(t) !== undefined) r.lease = leaseValue(t);
          else warn(line, `dhcp-range: unknown field "${t}" ignored`);
        }
        if (ips[0]) r.netmask = ips[0];
        m.ranges.push(r);
        break;
      }

      case 'dhcp-host': {
        const h: Host = { line, macs: [], sets: [], ignore: false };
        let skip = false;
        for (const a of args) {
          if (!a) continue;
          if (/^(set|net):/i.test(a)) h.sets.push(a.slice(4));
          else if (/^tag:/i.test(a)) warn(line, `dhcp-host condition ${a} not carried over`);
          else if (MAC.test(a)) h.macs.push(normalizeMac(a));
          else if (/^\d+-/.test(a) && MAC.test(a.replace(/^\d+-/, ''))) h.macs.push(normalizeMac(a.replace(/^\d+-/, '')));
          else if (isIpv4(a)) h.ip = a;
          else if (/^id:/i.test(a)) {
            warn(line, 'dhcp-host by client-id (id:) not carried over: lanboot hosts are keyed by MAC');
            skip = true;
          } else if (a.toLowerCase() === 'ignore') h.ignore = true;
          else if (a.toLowerCase() === 'infinite' || leaseValue(a) !== undefined) {
            warn(line, `per-host lease time "${a}" not carried over (the subnet's lease applies)`);
          } else if (a.startsWith('[')) warn(line, 'IPv6 address in dhcp-host not carried over');
          else if (a.includes('*') || a.includes(':')) {
            warn(line, `dhcp-host field "${a}" (wildcard MAC?) not carried over`);
            skip = true;
          } else if (/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(a)) h.name = a;
          else if (/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(a)) {
            h.name = a.split('.')[0];
            warn(line, `host name ${a}: lanboot host names are one label; ${h.name} kept (the domain comes from the subnet)`);
          } else warn(line, `dhcp-host field "${a}" not carried over`);
        }
        if (skip) break;
        if (h.macs.length === 0) {
          warn(line, 'dhcp-host without a MAC address not carried over: lanboot hosts are keyed by MAC');
          break;
        }
        if (h.macs.length > 1) warn(line, `dhcp-host lists ${h.macs.length} MACs for one host; only ${h.macs[0]} carried over`);
        m.hosts.push(h);
        break;
      }

      case 'dhcp-boot': {
        // option.c: leading tag:/net: tokens, then file, server name, and next server (address or name).
        const { conds, rest: r0 } = takeTags(args);
        let rest = r0;
        // "!tag:x" is no tag to dnsmasq: it becomes the file name. Read it as meant (tag:!x).
        let misread: string | undefined;
        while (rest.length > 1 && /^!(tag|net):./i.test(rest[0]!)) {
          misread = rest[0]!;
          conds.push({ name: rest[0]!.slice(5), neg: true });
          const more = takeTags(rest.slice(1));
          conds.push(...more.conds);
          rest = more.rest;
        }
        if (!rest[0]) {
          warn(line, 'dhcp-boot without a file name');
          break;
        }
        const b: Boot = { line, conds, file: rest[0] };
        if (misread) {
          b.misreadTag = misread;
          warn(
            line,
            `dhcp-boot: dnsmasq reads "${misread}" as the boot file name, so every client matching the tags before it gets a file called "${misread}"; imported as tag:!${misread.slice(5)}, as meant`,
          );
        }
        if (rest[1]) b.sname = rest[1];
        // dnsmasq takes everything after the second comma as one address or name.
        const third = rest.slice(2).join(',');
        if (isIpv4(third)) b.server = third;
        else if (third) b.tftpName = third;
        m.boots.push(b);
        break;
      }

      case 'pxe-service': {
        const { conds, rest } = takeTags(args);
        const csaTok = (rest[0] ?? '').toLowerCase();
        const csa = CSA.indexOf(csaTok) >= 0 ? CSA.indexOf(csaTok) : /^\d+$/.test(csaTok) ? Number(csaTok) : undefined;
        if (csa === undefined || rest.length < 2) {
          warn(line, `pxe-service: cannot read client system type "${rest[0] ?? ''}"; dnsmasq refuses this line`);
          break;
        }
        m.enablePxe = true;
        const s: Service = { line, conds, csa, menu: rest[1]!, type: 0 };
        const third = rest[2];
        if (third !== undefined && third !== '') {
          if (/^\d+$/.test(third)) s.type = Number(third);
          else {
            s.basename = third;
            s.type = boottype++;
          }
          const srv = rest.slice(3).join(',');
          if (isIpv4(srv)) s.server = srv;
          else if (srv) s.sname = srv;
        }
        m.services.push(s);
        break;
      }

      case 'pxe-prompt': {
        const { conds, rest } = takeTags(args);
        m.enablePxe = true;
        m.prompt = { line, conds, text: rest[0] ?? '', timeout: rest[1] && /^\d+$/.test(rest[1]) ? Number(rest[1]) : 255 };
        if (conds.length) warn(line, 'pxe-prompt with tags: lanboot shows the prompt to every PXE client');
        break;
      }

      case 'dhcp-pxe-vendor':
        m.pxeVendors.push(...args.filter(Boolean));
        break;

      case 'dhcp-userclass':
      case 'dhcp-vendorclass': {
        const tag = setterTag(args[0]);
        if (!tag || args.length < 2) {
          warn(line, `${key}: cannot read; dnsmasq refuses this line`);
          break;
        }
        let data = args.slice(1).join(',');
        if (key === 'dhcp-vendorclass' && /^enterprise:/i.test(data)) {
          m.opaque.set(tag, line);
          warn(line, 'dhcp-vendorclass with enterprise: (RFC 3925 vendor-identifying class) not carried over');
          break;
        }
        data = data.replace(/^"(.*)"$/, '$1');
        m.classes.push({ line, tag, kind: key === 'dhcp-userclass' ? 'user' : 'vendor', data: Buffer.from(data, 'latin1') });
        break;
      }

      case 'dhcp-match': {
        const tag = setterTag(args[0]);
        const code = args[1] !== undefined ? optionCode(args[1]) : undefined;
        if (!tag || code === undefined) {
          if (tag && /^vi-encap:/i.test(args[1] ?? '')) {
            m.opaque.set(tag, line);
            warn(line, 'dhcp-match on vi-encap: (RFC 3925) not carried over');
          } else warn(line, 'dhcp-match: cannot read; dnsmasq refuses this line');
          break;
        }
        const raw = args.slice(2).join(',');
        m.matches.push({ line, tag, code, value: raw ? matchValue(code, raw) : undefined });
        break;
      }

      case 'dhcp-mac': {
        const tag = setterTag(args[0]);
        const pat = args[1] ?? '';
        const bytes = pat.split(/[:-]/).map((p) => (p === '*' ? null : parseInt(p, 16)));
        if (!tag || bytes.length !== 6 || bytes.some((b) => b !== null && Number.isNaN(b))) {
          warn(line, 'dhcp-mac: cannot read; dnsmasq refuses this line');
          break;
        }
        m.macTags.push({ line, tag, bytes });
        break;
      }

      case 'tag-if': {
        const t: TagIf = { line, sets: [], conds: [] };
        for (const a of args) {
          if (/^set:/i.test(a)) t.sets.push(a.slice(4));
          else {
            const c = parseCond(a);
            if (c) t.conds.push(c);
          }
        }
        m.tagIfs.push(t);
        break;
      }

      case 'dhcp-circuitid':
      case 'dhcp-remoteid':
      case 'dhcp-subscrid':
      case 'dhcp-proxy': {
        const tag = setterTag(args[0]);
        if (tag) m.opaque.set(tag, line);
        warn(line, `${key}: lanboot cannot tag clients by relay data; not carried over`);
        break;
      }

      case 'dhcp-option':
      case 'dhcp-option-force': {
        const force = key === 'dhcp-option-force';
        const conds: Cond[] = [];
        let vendor: string | undefined;
        let encap: number | undefined;
        let i = 0;
        let code: number | undefined;
        // parse_dhcp_opt(): tags, vendor:/encap: qualifiers, then the option.
        for (; i < args.length; i++) {
          const a = args[i]!;
          const c = optionCode(a);
          if (c !== undefined) {
            code = c;
            i++;
            break;
          }
          if (/^vendor:/i.test(a)) vendor = a.slice(7);
          else if (/^encap:/i.test(a)) encap = Number(a.slice(6));
          else if (/^vi-encap:/i.test(a)) encap = -1;
          else if (/^option6:/i.test(a)) break;
          else {
            const cond = parseCond(a);
            conds.push(cond ?? { name: a.replace(/^set:/i, ''), neg: false });
          }
        }
        if (code === undefined) {
          warn(line, `${key} ${v ?? ''}: unknown option; not carried over`);
          break;
        }
        m.options.push({ line, code, conds, values: args.slice(i), force, vendor, encap });
        break;
      }

      case 'dhcp-ignore':
        m.ignores.push({ line, conds: takeTags(args).conds });
        break;
      case 'dhcp-no-override':
        m.noOverride = true;
        break;

      case 'enable-tftp':
        m.tftp.enabled = true;
        m.tftp.enableLine = line;
        if (v) warn(line, `enable-tftp=${v}: lanboot's TFTP listens on tftp.address, not per interface`);
        break;
      case 'tftp-root':
        if (args[0]) {
          m.tftp.root = args[0];
          m.tftp.rootLine = line;
          if (args[1]) warn(line, `per-interface tftp-root (${args[1]}) not carried over; one root for all`);
        }
        break;
      case 'tftp-no-blocksize':
        m.tftp.settings.blksize_max = 512;
        break;
      case 'tftp-mtu':
        if (/^\d+$/.test(v ?? '') && Number(v) > 100) m.tftp.settings.blksize_max = Number(v) - 32; // IP 20 + UDP 8 + TFTP 4
        else warn(line, 'tftp-mtu: cannot read; not carried over');
        break;
      case 'tftp-port-range':
        if (args.length === 2 && args.every((a) => /^\d+$/.test(a))) m.tftp.settings.port_range = args.map(Number);
        else warn(line, 'tftp-port-range: cannot read; not carried over');
        break;
      case 'tftp-max':
        if (/^\d+$/.test(v ?? '')) m.tftp.settings.max_transfers = Number(v);
        break;
      case 'tftp-no-fail':
        break;
      case 'tftp-secure':
      case 'tftp-lowercase':
      case 'tftp-unique-root':
      case 'tftp-single-port':
      case 'tftp-port':
        warn(line, `${key}: lanboot has no such TFTP setting; not carried over`);
        break;

      default:
        if (HARMLESS.has(key)) break;
        if (DNS_KEYS.has(key)) warn(line, `${key}: DNS setting; lanboot serves no DNS`);
        else warn(line, `${key}: not a setting lanboot carries over`);
    }
  }
  if (m.pxeVendors.length === 0) m.pxeVendors.push('PXEClient');
  return m;
}
