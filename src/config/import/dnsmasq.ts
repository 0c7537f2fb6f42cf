/**
 * `lanboot import dnsmasq FILE`: carry the netboot part of a dnsmasq.conf over
 * to lanboot YAML. dnsmasq expresses policy with tags (dhcp-match, dhcp-userclass,
 * tag-if ...) and picks a dhcp-boot line per client; lanboot has fixed slots
 * (boot.bios/uefi/script, per-host overrides). So instead of translating line by
 * line we evaluate the tag logic for each kind of client lanboot distinguishes
 * (firmware arch x PXE ROM / iPXE, per host) exactly as dnsmasq's find_boot()
 * would, and fill the slots from the answers. Every line that does not survive
 * gets a warning with its line number. Pure: included files (conf-file,
 * conf-dir, dhcp-hostsfile ...) are read through the IncludeReader the caller
 * passes; without one they are reported.
 */
import path from 'node:path';
import { Document, isMap, isPair, isSeq } from 'yaml';

import type { ImportResult, ImportWarning } from './types.js';
import { isIpv4, netmaskToPrefix, networkOf, normalizeMac as normMac } from '../../net/address.js';
export type { ImportResult, ImportWarning };

interface Cond {
  name: string;
  neg: boolean;
}

interface Directive {
  line: number;
  key: string;
  /** undefined for flags without "=" */
  value?: string;
  args: string[];
}

interface BootRule {
  line: number;
  conds: Cond[];
  file: string;
  server?: string;
  source: 'dhcp-boot' | 'pxe-service' | 'option-67';
  /** pxe-service: the client system architectures it answers. */
  arch?: number[];
}

interface Range {
  line: number;
  kind: 'pool' | 'proxy' | 'static';
  start: string;
  end?: string;
  netmask?: string;
  lease?: string | number;
  sets: string[];
  conds: Cond[];
}

interface HostLine {
  line: number;
  macs: string[];
  name?: string;
  ip?: string;
  sets: string[];
}

interface OptionLine {
  line: number;
  conds: Cond[];
  code: number;
  values: string[];
}

/** A dotted quad, by net/address's one rule. */
const IPV4 = { test: isIpv4 };
const MAC = /^[0-9a-f]{1,2}([:-][0-9a-f]{1,2}){5}$/i;
const DURATION = /^(\d+)([smhdw]?)$/i;

/** dnsmasq's option names (dnsmasq --help dhcp) for the codes people write by name. */
const OPTION_NAMES: Record<string, number> = {
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

/** pxe-service client system architecture names (RFC 4578 numbering, dnsmasq spelling). */
const CSA: Record<string, number> = {
  x86pc: 0, pc98: 1, ia64_efi: 2, alpha: 3, arc_x86: 4, intel_lean_client: 5, ia32_efi: 6,
  'x86-64_efi': 7, xscale_efi: 8, bc_efi: 9, arm32_efi: 10, arm64_efi: 11,
};

/** Lines that have no effect on a netboot server, or whose effect lanboot has anyway. */
const HARMLESS = new Set([
  'log-dhcp', 'log-queries', 'bind-interfaces', 'bind-dynamic', 'keep-in-foreground', 'no-daemon',
  'dhcp-authoritative', 'dhcp-no-override', 'pid-file', 'leasefile-ro', 'quiet-dhcp',
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

function warn(out: ImportWarning[], line: number, message: string): void {
  out.push({ line, message });
}

/** Remove a comment: '#' at the start or after whitespace, outside quotes (as dnsmasq's reader does). */
function stripComment(s: string): string {
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') quoted = !quoted;
    else if (c === '#' && !quoted && (i === 0 || /\s/.test(s[i - 1]!))) return s.slice(0, i);
  }
  return s;
}

/** Split at commas outside quotes; trim; drop surrounding quotes. */
function splitArgs(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of v) {
    if (c === '"') {
      quoted = !quoted;
      cur += c;
    } else if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((a) => {
    const t = a.trim();
    return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
  });
}

export function parseDnsmasq(text: string): Directive[] {
  const out: Directive[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const s = stripComment(lines[i]!).trim();
    if (!s) continue;
    const body = s.replace(/^--/, '');
    const eq = body.indexOf('=');
    if (eq < 0) out.push({ line: i + 1, key: body.toLowerCase(), args: [] });
    else {
      const value = body.slice(eq + 1).trim();
      out.push({ line: i + 1, key: body.slice(0, eq).trim().toLowerCase(), value, args: splitArgs(value) });
    }
  }
  return out;
}

function parseCond(tok: string): Cond | undefined {
  const m = /^(tag|net):(.*)$/i.exec(tok);
  if (!m) return undefined;
  const n = m[2]!;
  if (n.startsWith('!') || n.startsWith('#')) return { name: n.slice(1), neg: true };
  return { name: n, neg: false };
}

/** Leading tag:/net:/set: tokens. `netIsSet`: in dhcp-range and dhcp-host, old `net:` sets a tag. */
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

/** The tag a dhcp-match/-userclass/-vendorclass line sets: "set:x", "net:x" or bare "x". */
function setterTag(args: string[]): { tag: string; rest: string[] } | undefined {
  if (args.length < 2) return undefined;
  const a = args[0]!;
  const tag = /^(set|net):/i.test(a) ? a.slice(4) : a;
  if (!tag || /^tag:/i.test(a)) return undefined;
  return { tag, rest: args.slice(1) };
}

function globMatch(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(name);
}

function condsMatch(conds: Cond[], tags: Set<string>): boolean {
  for (const c of conds) {
    const has = [...tags].some((t) => globMatch(c.name, t));
    if (has === c.neg) return false;
  }
  return true;
}

const maskToPrefix = netmaskToPrefix;

/** Braces are template syntax in lanboot; iPXE's ${var} must survive as text. */
function escapeTemplate(s: string): string {
  return s.replace(/[{}]/g, (c) => c + c);
}

/** A lease time as lanboot writes it: "12h", 3600; undefined for "infinite" etc. */
function leaseValue(tok: string): string | number | undefined {
  const m = DURATION.exec(tok);
  if (!m) return undefined;
  return m[2] ? `${m[1]}${m[2].toLowerCase()}` : Number(m[1]);
}

/** What a PXE ROM or iPXE of this arch sends as option 60. */
function vendorClassFor(arch: number): string {
  const http = arch === 15 || arch === 16 || arch === 19;
  return `${http ? 'HTTPClient' : 'PXEClient'}:Arch:${String(arch).padStart(5, '0')}:UNDI:003016`;
}

/** Arches lanboot has a bootfile slot for. */
const ARCH = { bios: 0, uefi32: 6, uefi: 7, uefiBc: 9, arm32: 10, arm64: 11, http: 16 } as const;

/** File access for included files; throws like fs does. */
export interface IncludeReader {
  read(file: string): string;
  /** Names (not paths) in a directory. */
  list(dir: string): string[];
}

/** Options whose files hold lines of another option without its "name=". */
const LINE_FILES: Record<string, string> = {
  'dhcp-hostsfile': 'dhcp-host',
  'dhcp-hostsdir': 'dhcp-host',
  'dhcp-optsfile': 'dhcp-option',
  'dhcp-optsdir': 'dhcp-option',
};
const MAX_INCLUDE_DEPTH = 8;

/**
 * Splice included files into the directive list, in place of the line that
 * includes them, as dnsmasq reads them. Included lines get positions past the
 * main file's last line; `where` maps them back to file:line for warnings.
 */
function expandIncludes(
  dirs: Directive[],
  base: string,
  io: IncludeReader,
  where: Map<number, { file: string; line: number }>,
  warnings: ImportWarning[],
  next: { pos: number },
  stack: string[],
): Directive[] {
  const out: Directive[] = [];
  for (const d of dirs) {
    const kind = d.key === 'conf-file' || d.key === 'conf-dir' ? 'conf' : LINE_FILES[d.key] ? 'lines' : undefined;
    if (!kind || !d.value) {
      out.push(d);
      continue;
    }
    // dnsmasq resolves relative paths against its working directory; the including file's
    // directory is the better guess for a file being imported elsewhere.
    const target = path.resolve(path.dirname(base), d.args[0] ?? '');
    const isDir = d.key === 'conf-dir' || d.key.endsWith('dir');
    let files: string[];
    try {
      files = isDir ? pickDirFiles(target, d.key === 'conf-dir' ? d.args.slice(1) : [], io) : [target];
    } catch (e) {
      warn(warnings, d.line, `${d.key}=${d.value}: cannot read (${(e as Error).message}); not carried over`);
      continue;
    }
    for (const f of files) {
      if (stack.includes(f) || stack.length >= MAX_INCLUDE_DEPTH) {
        warn(warnings, d.line, `${d.key}: ${f} includes itself or nests too deep; not read again`);
        continue;
      }
      let text: string;
      try {
        text = io.read(f);
      } catch (e) {
        warn(warnings, d.line, `${d.key}: cannot read ${f} (${(e as Error).message}); not carried over`);
        continue;
      }
      const inner =
        kind === 'conf'
          ? parseDnsmasq(text)
          : parseDnsmasq(text).map((x) => {
              const value = [x.key, x.value].filter((v) => v !== undefined).join('=');
              return { line: x.line, key: LINE_FILES[d.key]!, value, args: splitArgs(value) };
            });
      const placed = inner.map((x) => {
        const pos = next.pos++;
        where.set(pos, { file: f, line: x.line });
        return { ...x, line: pos };
      });
      out.push(...(kind === 'conf' ? expandIncludes(placed, f, io, where, warnings, next, [...stack, f]) : placed));
    }
  }
  return out;
}

/** conf-dir=DIR[,.ext-to-skip...][,*.ext-to-take...], as dnsmasq filters it; sorted by name. */
function pickDirFiles(dir: string, filters: string[], io: IncludeReader): string[] {
  const take = filters.filter((f) => f.startsWith('*')).map((f) => f.slice(1));
  const skip = filters.filter((f) => !f.startsWith('*'));
  return io
    .list(dir)
    .filter((n) => !n.startsWith('.') && !n.endsWith('~') && !(n.startsWith('#') && n.endsWith('#')))
    .filter((n) => (take.length ? take.some((t) => n.endsWith(t)) : true) && !skip.some((x) => n.endsWith(x)))
    .sort()
    .map((n) => path.join(dir, n));
}

export function importDnsmasq(text: string, file: string, include?: IncludeReader): ImportResult {
  const warnings: ImportWarning[] = [];
  const where = new Map<number, { file: string; line: number }>();
  const top = parseDnsmasq(text);
  const dirs = include ? expandIncludes(top, file, include, where, warnings, { pos: text.split(/\r?\n/).length + 1 }, [path.resolve(file)]) : top;

  const interfaces: string[] = [];
  const ranges: Range[] = [];
  const options: OptionLine[] = [];
  const boots: BootRule[] = [];
  const hosts: HostLine[] = [];
  /** tag -> architectures (option 93 matches) */
  const archTags = new Map<string, Set<number>>();
  /** tag -> substring of option 60 */
  const vendorTags: Array<{ tag: string; match: string; line: number }> = [];
  const ipxeTags = new Set<string>();
  const userClasses: Array<{ line: number; tag: string; match: string }> = [];
  const tagIfs: Array<{ line: number; sets: string[]; conds: Cond[] }> = [];
  /** Lines that set a tag lanboot cannot observe (dhcp-mac, circuit id...), by tag. */
  const opaqueTags = new Map<string, number>();
  let tftpEnabled = false;
  let tftpEnableLine = 0;
  const tftp: Record<string, unknown> = {};
  let tftpRootLine = 0;
  let domain: string | undefined;
  let unknownClients: boolean | undefined;

  const addArch = (tag: string, arch: number) => {
    let s = archTags.get(tag);
    if (!s) archTags.set(tag, (s = new Set()));
    s.add(arch);
  };

  for (const d of dirs) {
    const { line, key, args } = d;
    const v = d.value;
    switch (key) {
      case 'interface':
        if (!v) warn(warnings, line, 'interface= without a name');
        else for (const a of args) if (a && !interfaces.includes(a)) interfaces.push(a);
        break;
      case 'except-interface':
        if (!args.every((a) => a === 'lo'))
          warn(warnings, line, 'except-interface: lanboot listens only on `interfaces`; not carried over');
        break;
      case 'listen-address':
        if (!args.every((a) => a === '127.0.0.1' || a === '::1'))
          warn(warnings, line, 'listen-address: lanboot binds per interface (`interfaces`); not carried over');
        break;
      case 'port':
        if (v !== '0') warn(warnings, line, 'port: lanboot serves no DNS; not carried over');
        break;
      case 'domain':
        // dnsmasq's domain= is also DHCP option 15 for its ranges.
        if (args[0] && args.length === 1) domain = args[0];
        else warn(warnings, line, 'domain= with a subnet/range qualifier: not carried over; set dhcp.subnets[].domain');
        break;

      case 'dhcp-range': {
        const { conds, sets, rest: r0 } = takeTags(args, true);
        let rest = r0;
        // Old syntax: a bare network-id before the start address sets that tag.
        if (rest.length > 1 && /^[a-z_][\w.-]*$/i.test(rest[0]!) && IPV4.test(rest[1]!)) {
          sets.push(rest[0]!);
          rest = rest.slice(1);
        }
        const start = rest[0] ?? '';
        if (start.includes(':') || /^constructor:/i.test(start)) {
          warn(warnings, line, 'IPv6 range: lanboot serves DHCPv4 only; not carried over');
          break;
        }
        if (!IPV4.test(start)) {
          warn(warnings, line, `dhcp-range: cannot read start address "${start}"; not carried over`);
          break;
        }
        const r: Range = { line, kind: 'pool', start, sets, conds };
        let i = 1;
        const second = rest[1]?.toLowerCase();
        if (second === 'proxy' || second === 'static') {
          r.kind = second;
          i = 2;
        } else if (second && IPV4.test(second)) {
          r.end = second;
          i = 2;
        } else {
          r.kind = 'static';
        }
        const ips = [];
        for (; i < rest.length; i++) {
          const t = rest[i]!;
          if (IPV4.test(t)) ips.push(t);
          else if (t.toLowerCase() === 'infinite') {
            r.lease = 'default';
            warn(warnings, line, "infinite lease: lanboot leases expire; lanboot's default (12h) used");
          }
          else if (leaseValue(t) !== undefined) r.lease = leaseValue(t);
          else warn(warnings, line, `dhcp-range: unknown field "${t}" ignored`);
        }
        if (ips[0]) r.netmask = ips[0];
        ranges.push(r);
        break;
      }

      case 'dhcp-host': {
        const h: HostLine = { line, macs: [], sets: [] };
        let bad = false;
        for (const a of args) {
          if (!a) continue;
          if (/^set:/i.test(a) || /^net:/i.test(a)) h.sets.push(a.slice(4));
          else if (/^tag:/i.test(a)) {
            warn(warnings, line, `dhcp-host condition ${a} not carried over`);
          } else if (MAC.test(a)) h.macs.push(normMac(a));
          else if (/^\d+-/.test(a) && MAC.test(a.replace(/^\d+-/, ''))) h.macs.push(normMac(a.replace(/^\d+-/, '')));
          else if (IPV4.test(a)) h.ip = a;
          else if (/^id:/i.test(a)) {
            warn(warnings, line, 'dhcp-host by client-id (id:) not carried over: lanboot hosts are keyed by MAC');
            bad = true;
          } else if (a.toLowerCase() === 'ignore') {
            warn(warnings, line, 'dhcp-host ...,ignore not carried over: lanboot has no "never answer" host');
            bad = true;
          } else if (a.toLowerCase() === 'infinite' || leaseValue(a) !== undefined) {
            warn(warnings, line, `per-host lease time "${a}" not carried over (set the subnet's lease)`);
          } else if (a.startsWith('[')) {
            warn(warnings, line, 'IPv6 address in dhcp-host not carried over');
          } else if (a.includes('*') || a.includes(':')) {
            warn(warnings, line, `dhcp-host field "${a}" (wildcard MAC?) not carried over`);
            bad = true;
          } else if (/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(a)) h.name = a;
          else if (/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(a)) {
            h.name = a.split('.')[0];
            warn(warnings, line, `host name ${a}: lanboot host names are one label; ${h.name} kept (domain comes from the subnet)`);
          }
          else warn(warnings, line, `dhcp-host field "${a}" not carried over`);
        }
        if (bad) break;
        if (h.macs.length === 0) {
          warn(warnings, line, 'dhcp-host without a MAC address not carried over: lanboot hosts are keyed by MAC');
          break;
        }
        if (h.macs.length > 1)
          warn(warnings, line, `dhcp-host lists ${h.macs.length} MACs for one host; only ${h.macs[0]} carried over`);
        hosts.push(h);
        break;
      }

      case 'dhcp-boot': {
        const { conds, rest } = takeTags(args);
        if (!rest[0]) {
          warn(warnings, line, 'dhcp-boot without a file name');
          break;
        }
        const server = rest[2];
        if (server && !IPV4.test(server))
          warn(warnings, line, `dhcp-boot server "${server}" is not an IPv4 address; not carried over`);
        boots.push({ line, conds, file: rest[0], server: server && IPV4.test(server) ? server : undefined, source: 'dhcp-boot' });
        break;
      }

      case 'pxe-service': {
        const { conds, rest } = takeTags(args);
        const csa = CSA[(rest[0] ?? '').toLowerCase()];
        if (csa === undefined) {
          warn(warnings, line, `pxe-service: unknown client system type "${rest[0] ?? ''}"; not carried over`);
          break;
        }
        const base = rest[2];
        if (!base || /^\d+$/.test(base)) {
          warn(warnings, line, 'pxe-service menu entry without a boot file (local boot or boot server type) not carried over');
          break;
        }
        // dnsmasq appends the PXE layer ".0" unless the basename already has a suffix (2.76+).
        const fileName = /\.[^/]+$/.test(base) ? base : `${base}.0`;
        const server = rest[3] && IPV4.test(rest[3]) ? rest[3] : undefined;
        const arch = csa === 7 || csa === 9 ? [7, 9] : [csa];
        boots.push({ line, conds, file: fileName, server, source: 'pxe-service', arch });
        break;
      }

      case 'pxe-prompt':
        warn(warnings, line, 'pxe-prompt: lanboot shows no PXE ROM menu; not carried over');
        break;

      case 'dhcp-userclass': {
        const s = setterTag(args);
        if (!s) {
          warn(warnings, line, 'dhcp-userclass: cannot read; not carried over');
          break;
        }
        const match = s.rest.join(',');
        userClasses.push({ line, tag: s.tag, match });
        if (match === 'iPXE') ipxeTags.add(s.tag);
        break;
      }

      case 'dhcp-vendorclass': {
        const s = setterTag(args);
        if (!s || !s.rest[0]) {
          warn(warnings, line, 'dhcp-vendorclass: cannot read; not carried over');
          break;
        }
        const match = s.rest[0].replace(/^enterprise:\d+,?/i, '');
        vendorTags.push({ tag: s.tag, match, line });
        break;
      }

      case 'dhcp-match': {
        const s = setterTag(args);
        if (!s) {
          warn(warnings, line, 'dhcp-match: cannot read; not carried over');
          break;
        }
        const opt = s.rest[0]!.toLowerCase();
        const code = /^\d+$/.test(opt) ? Number(opt) : OPTION_NAMES[opt.replace(/^option:/, '')];
        const val = s.rest[1];
        if (code === 175) {
          ipxeTags.add(s.tag);
          if (val !== undefined)
            warn(
              warnings,
              line,
              `iPXE feature check 175.${val} not carried over: lanboot treats every iPXE (user-class iPXE or option 175) as iPXE`,
            );
        } else if (code === 93 && val !== undefined && /^\d+$/.test(val)) addArch(s.tag, Number(val));
        else if (code === 60 && val !== undefined) vendorTags.push({ tag: s.tag, match: val, line });
        else if (code === 77 && val !== undefined) {
          userClasses.push({ line, tag: s.tag, match: val });
          if (val === 'iPXE') ipxeTags.add(s.tag);
        } else {
          opaqueTags.set(s.tag, line);
          warn(warnings, line, `dhcp-match on option ${s.rest[0]}: lanboot has no such match; not carried over`);
        }
        break;
      }

      case 'tag-if': {
        const sets: string[] = [];
        const conds: Cond[] = [];
        for (const a of args) {
          if (/^set:/i.test(a)) sets.push(a.slice(4));
          else {
            const c = parseCond(a);
            if (c) conds.push(c);
          }
        }
        tagIfs.push({ line, sets, conds });
        break;
      }

      case 'dhcp-mac':
      case 'dhcp-circuitid':
      case 'dhcp-remoteid':
      case 'dhcp-subscrid':
      case 'dhcp-proxy': {
        const s = setterTag(args);
        if (s) opaqueTags.set(s.tag, line);
        warn(warnings, line, `${key}: lanboot cannot tag clients this way; not carried over (hosts accept MAC/bits prefixes)`);
        break;
      }

      case 'dhcp-option':
      case 'dhcp-option-force': {
        const { conds, rest } = takeTags(args);
        let r = rest;
        // Old syntax: bare words before the option are tags to match.
        while (r.length > 1 && /^[a-z_][\w.-]*$/i.test(r[0]!) && !/^\d+$/.test(r[0]!)) {
          conds.push({ name: r[0]!, neg: false });
          r = r.slice(1);
        }
        // PXE discovery control (43.6) etc.: lanboot builds option 43 for PXE clients itself.
        if (r[0] && /^vendor:PXEClient$/i.test(r[0])) break;
        if (r[0] && /^(encap|vi-encap|vendor):/i.test(r[0])) {
          const m = /^encap:(\d+)$/i.exec(r[0]);
          if (m && m[1] === '175') {
            if (r[1] === '176' || r[1]?.toLowerCase() === 'no-pxedhcp') break; // lanboot sends 175.176 to iPXE itself
            warn(warnings, line, `iPXE setting 175.${r[1] ?? '?'}: lanboot has no key for it; not carried over`);
          } else warn(warnings, line, `${r[0]} options: not carried over`);
          break;
        }
        const o = (r[0] ?? '').toLowerCase();
        const code = /^\d+$/.test(o) ? Number(o) : o.startsWith('option:') ? OPTION_NAMES[o.slice(7)] : undefined;
        if (code === undefined) {
          warn(warnings, line, `dhcp-option ${r[0] ?? ''}: unknown option; not carried over`);
          break;
        }
        r = r.slice(1);
        options.push({ line, conds, code, values: r });
        break;
      }

      case 'dhcp-ignore':
        if (args.length === 1 && /^tag:!known$/i.test(args[0]!)) {
          unknownClients = false;
          warn(
            warnings,
            line,
            'partly carried over: boot.unknown_clients: false (lanboot still leases addresses to unknown clients, dnsmasq ignored them)',
          );
        } else warn(warnings, line, 'dhcp-ignore with other tags: not carried over');
        break;

      case 'enable-tftp':
        tftpEnabled = true;
        tftpEnableLine = line;
        if (v) warn(warnings, line, `enable-tftp=${v}: lanboot's TFTP listens on tftp.address, not per interface`);
        break;
      case 'tftp-root':
        if (args[0]) {
          tftp.root = args[0];
          tftpRootLine = line;
          if (args[1]) warn(warnings, line, `per-interface tftp-root (${args[1]}) not carried over; one root for all`);
        }
        break;
      case 'tftp-no-blocksize':
        tftp.blksize_max = 512;
        break;
      case 'tftp-mtu':
        if (/^\d+$/.test(v ?? '') && Number(v) > 100) tftp.blksize_max = Number(v) - 32; // IP 20 + UDP 8 + TFTP 4
        else warn(warnings, line, 'tftp-mtu: cannot read; not carried over');
        break;
      case 'tftp-port-range':
        if (args.length === 2 && args.every((a) => /^\d+$/.test(a))) tftp.port_range = args.map(Number);
        else warn(warnings, line, 'tftp-port-range: cannot read; not carried over');
        break;
      case 'tftp-max':
        if (/^\d+$/.test(v ?? '')) tftp.max_transfers = Number(v);
        break;
      case 'tftp-secure':
      case 'tftp-lowercase':
      case 'tftp-unique-root':
      case 'tftp-no-fail':
      case 'tftp-single-port':
      case 'tftp-port':
        warn(warnings, line, `${key}: lanboot has no such TFTP setting; not carried over`);
        break;

      case 'conf-file':
      case 'conf-dir':
      case 'dhcp-hostsfile':
      case 'dhcp-optsfile':
      case 'dhcp-hostsdir':
      case 'dhcp-optsdir':
        warn(warnings, line, `${key}=${v ?? ''}: included files are not read; import them too and merge by hand`);
        break;

      default:
        if (HARMLESS.has(key)) break;
        if (DNS_KEYS.has(key)) warn(warnings, line, `${key}: DNS setting; lanboot serves no DNS`);
        else warn(warnings, line, `${key}: not a setting lanboot carries over`);
    }
  }

  // ---- DHCP mode and subnets -------------------------------------------
  const pools = ranges.filter((r) => r.kind !== 'proxy');
  const proxies = ranges.filter((r) => r.kind === 'proxy');
  const mode: 'authoritative' | 'proxy' = pools.length > 0 ? 'authoritative' : 'proxy';
  const used = mode === 'authoritative' ? pools : proxies;
  if (mode === 'authoritative')
    for (const p of proxies)
      warn(
        warnings,
        p.line,
        'proxy range next to address ranges: lanboot runs one DHCP mode per instance (authoritative chosen); not carried over',
      );

  const droppedRangeTags = new Map<string, number>();
  for (const r of ranges) if (!used.includes(r)) for (const t of r.sets) droppedRangeTags.set(t, r.line);
  /** Tags every client of the carried-over ranges has. */
  const rangeTags = new Set(used.flatMap((r) => r.sets));

  interface Subnet {
    subnet: string;
    range?: string;
    router?: string;
    dns?: string[];
    domain?: string;
    lease?: string | number;
    options?: Record<string, string | string[]>;
    _sets: string[];
  }
  const subnets: Subnet[] = [];
  for (const r of used) {
    let prefix = r.netmask ? maskToPrefix(r.netmask) : 24;
    if (prefix === undefined) {
      warn(warnings, r.line, `netmask ${r.netmask} is not a valid mask; assumed /24`);
      prefix = 24;
    } else if (!r.netmask)
      warn(warnings, r.line, 'no netmask (dnsmasq takes it from the interface): assumed /24, check `subnet:`');
    const net = networkOf(r.start, prefix) + '/' + prefix;
    const existing = subnets.find((s) => s.subnet === net);
    if (existing) {
      if (r.end && existing.range) warn(warnings, r.line, `second range in ${net}: lanboot has one pool per subnet; not carried over`);
      else if (r.end) existing.range = `${r.start}-${r.end}`;
      existing._sets.push(...r.sets);
      continue;
    }
    const s: Subnet = { subnet: net, _sets: [...r.sets] };
    if (r.kind === 'pool' && r.end) s.range = `${r.start}-${r.end}`;
    // dnsmasq's default lease is one hour (lanboot's is 12h).
    if (r.kind !== 'proxy' && r.lease !== 'default') s.lease = r.lease ?? '1h';
    if (r.conds.length) warn(warnings, r.line, `range conditions (${r.conds.map(fmtCond).join(',')}) not carried over`);
    subnets.push(s);
  }

  // ---- boot decisions: evaluate dnsmasq's tags per client kind ------------
  const dhcpBoots = boots.filter((b) => b.source === 'dhcp-boot');
  const pxeServices = boots.filter((b) => b.source === 'pxe-service');
  let serverFromOption66: string | undefined;

  // Options: subnet-wide values, bootfile-name rules, and the rest.
  const subnetFor = (o: OptionLine): Subnet[] | undefined => {
    if (o.conds.length === 0) return subnets;
    if (o.conds.every((c) => !c.neg && subnets.some((s) => s._sets.includes(c.name))))
      return subnets.filter((s) => o.conds.every((c) => s._sets.includes(c.name)));
    return undefined;
  };
  const optionBoots: BootRule[] = [];
  for (const o of options) {
    if (o.code === 67) {
      if (o.values[0]) optionBoots.push({ line: o.line, conds: o.conds, file: o.values[0], source: 'option-67' });
      continue;
    }
    if (o.code === 66) {
      if (o.values[0] && IPV4.test(o.values[0]) && o.conds.length === 0) serverFromOption66 = o.values[0];
      else warn(warnings, o.line, 'tftp-server (66) by name or per tag: not carried over; lanboot sends its own address');
      continue;
    }
    const targets = subnetFor(o);
    if (!targets) {
      warn(warnings, o.line, `option ${o.code} for tags ${o.conds.map(fmtCond).join(',')}: lanboot sets options per subnet; not carried over`);
      continue;
    }
    if (targets.length === 0) {
      if (mode === 'proxy' || subnets.length === 0)
        warn(warnings, o.line, `option ${o.code}: no subnet to carry it to${mode === 'proxy' ? ' (proxy clients get no options)' : ''}`);
      continue;
    }
    if ([1, 28, 51, 54, 58, 59].includes(o.code)) continue; // derived by lanboot from the subnet and lease
    for (const s of targets) {
      switch (o.code) {
        case 3: {
          const ip = o.values.find((x) => IPV4.test(x) && x !== '0.0.0.0');
          if (ip) s.router = ip;
          break;
        }
        case 6: {
          const list = o.values.filter((x) => IPV4.test(x) && x !== '0.0.0.0');
          if (o.values.includes('0.0.0.0') && s === targets[0])
            warn(warnings, o.line, 'dns-server 0.0.0.0 (dnsmasq itself) dropped: put this server\'s address in `dns:` if it runs a resolver');
          if (list.length) s.dns = list;
          break;
        }
        case 15:
          if (o.values[0]) s.domain = o.values[0];
          break;
        case 12:
          if (s === targets[0]) warn(warnings, o.line, 'hostname (12) comes from hosts: entries; not carried over');
          break;
        default:
          if (o.values.length === 0) break;
          s.options ??= {};
          s.options[String(o.code)] = o.values.length === 1 ? o.values[0]! : o.values;
      }
    }
  }
  if (domain) for (const s of subnets) s.domain ??= domain;

  /** The tags dnsmasq would have for one client. */
  const clientTags = (arch: number, ipxe: boolean, extra: string[] = []): Set<string> => {
    const tags = new Set<string>([...rangeTags, ...extra]);
    for (const [t, arches] of archTags) if (arches.has(arch)) tags.add(t);
    const vc = vendorClassFor(arch);
    for (const v of vendorTags) if (vc.includes(v.match)) tags.add(v.tag);
    if (ipxe) for (const t of ipxeTags) tags.add(t);
    for (const ti of tagIfs) if (ti.conds.length && condsMatch(ti.conds, tags)) for (const s of ti.sets) tags.add(s);
    return tags;
  };

  /** dnsmasq's find_boot(): pxe-service for its arch first, then tagged dhcp-boot (last line first), then untagged. */
  const selected = new Set<BootRule>();
  const resolve = (arch: number, ipxe: boolean, extra: string[] = []): BootRule | undefined => {
    const tags = clientTags(arch, ipxe, extra);
    const pick = (): BootRule | undefined => {
      const pxe = pxeServices.find((r) => r.arch!.includes(arch) && condsMatch(r.conds, tags));
      if (pxe) return pxe;
      for (const list of [dhcpBoots, optionBoots]) {
        for (let i = list.length - 1; i >= 0; i--) if (list[i]!.conds.length && condsMatch(list[i]!.conds, tags)) return list[i];
        for (let i = list.length - 1; i >= 0; i--) if (!list[i]!.conds.length) return list[i];
      }
      return undefined;
    };
    const r = pick();
    if (r) selected.add(r);
    return r;
  };

  const boot: Record<string, unknown> = {};
  const isScriptish = (f: string) => /:\/\//.test(f) || /\.(ipxe|php|cgi|sh)$/i.test(f);
  // The iPXE stage: what iPXE (user-class iPXE / option 175) gets.
  const ipxeBios = resolve(ARCH.bios, true);
  const ipxeUefi = resolve(ARCH.uefi, true);
  const biosR = resolve(ARCH.bios, false);
  const uefiR = resolve(ARCH.uefi, false);
  const uefiBcR = resolve(ARCH.uefiBc, false);
  const scriptRule = ipxeBios ?? ipxeUefi;
  /** A chain bootfile slot for this arch: only when dnsmasq picks a file specially for it. */
  const slot = (arch: number, ...not: Array<BootRule | undefined>): BootRule | undefined => {
    const r = resolve(arch, false);
    if (!r || isScriptish(r.file) || not.includes(r)) return undefined;
    return r;
  };

  if (biosR && !isScriptish(biosR.file)) boot.bios = biosR.file;
  if (uefiR && !isScriptish(uefiR.file) && (uefiR !== biosR || /\.efi$/i.test(uefiR.file))) boot.uefi = uefiR.file;
  else if (uefiR && uefiR === biosR)
    warn(
      warnings,
      uefiR.line,
      `dnsmasq hands ${uefiR.file} to UEFI clients too; lanboot gives it to BIOS only, UEFI gets boot.uefi (default snponly.efi)`,
    );
  if (uefiBcR && uefiR && uefiBcR.file !== uefiR.file)
    warn(warnings, uefiBcR.line, `arch 9 gets ${uefiBcR.file} but arch 7 ${uefiR.file}: lanboot treats both as x86-64 UEFI (boot.uefi)`);
  const uefi32R = slot(ARCH.uefi32, biosR, uefiR, scriptRule);
  if (uefi32R) boot.uefi32 = uefi32R.file;
  const arm32R = slot(ARCH.arm32, biosR, uefiR, scriptRule);
  if (arm32R) boot.arm32 = arm32R.file;
  const arm64R = slot(ARCH.arm64, biosR, uefiR, scriptRule);
  if (arm64R) boot.arm64 = arm64R.file;
  const httpR = resolve(ARCH.http, false);
  if (httpR && httpR !== biosR && httpR !== uefiR && httpR !== scriptRule && /^https?:\/\//i.test(httpR.file))
    boot.http_boot = escapeTemplate(httpR.file);

  const toScript = (r: BootRule): string =>
    /:\/\//.test(r.file) ? escapeTemplate(r.file) : `tftp://${r.server ?? '{tftp}'}/${escapeTemplate(r.file.replace(/^\/+/, ''))}`;
  if (scriptRule && scriptRule !== biosR && scriptRule !== uefiR) {
    boot.script = toScript(scriptRule);
    if (ipxeUefi && ipxeBios && ipxeUefi.file !== ipxeBios.file)
      warn(warnings, ipxeUefi.line, `iPXE on UEFI gets ${ipxeUefi.file} but on BIOS ${ipxeBios.file}: lanboot has one boot.script (BIOS one kept)`);
  } else if (scriptRule && isScriptish(scriptRule.file)) {
    // A script for everyone: only iPXE can run it.
    boot.script = toScript(scriptRule);
  } else if (scriptRule && ipxeTags.size > 0)
    warn(warnings, scriptRule.line, `iPXE is handed ${scriptRule.file} again (a boot loop in dnsmasq); lanboot hands iPXE boot.script`);

  if (unknownClients === false) boot.unknown_clients = false;

  // Next-server: one address for all boot entries used becomes `server`.
  const servers = new Set([...selected].map((r) => r.server).filter((s): s is string => !!s));
  if (serverFromOption66) servers.add(serverFromOption66);
  let server: string | undefined;
  if (servers.size === 1) server = [...servers][0];
  else if (servers.size > 1)
    warn(warnings, 0, `boot entries name different servers (${[...servers].join(', ')}); lanboot advertises one ({server}); none set`);

  // ---- hosts ---------------------------------------------------------------
  const hostsOut: Array<[string, Record<string, unknown>]> = [];
  const seen = new Set<string>();
  for (const h of hosts) {
    const mac = h.macs[0]!;
    if (seen.has(mac)) {
      warn(warnings, h.line, `${mac} appears again; the later entry is not carried over`);
      continue;
    }
    seen.add(mac);
    const e: Record<string, unknown> = {};
    if (h.name) e.name = h.name;
    if (h.ip) e.ip = h.ip;
    if (h.sets.length) {
      const extra = [...h.sets, 'known'];
      const hb = resolve(ARCH.bios, false, extra);
      const hu = resolve(ARCH.uefi, false, extra);
      const hi = resolve(ARCH.bios, true, extra);
      if (hb && hb !== biosR && !isScriptish(hb.file)) e.bootfile = hb.file;
      else if (hu && hu !== uefiR && !isScriptish(hu.file)) e.bootfile = hu.file;
      if (hi && hi !== scriptRule && hi !== hb && hi !== hu) {
        e.boot = 'chain';
        e.chain = toScript(hi);
      }
      if (!e.bootfile && !e.boot)
        warn(warnings, h.line, `host tags (${h.sets.join(',')}) change nothing lanboot carries over`);
    }
    hostsOut.push([mac, e]);
  }

  // Boot entries that no kind of client ends up with did not survive.
  for (const b of [...boots, ...optionBoots]) {
    if (selected.has(b)) continue;
    const tagInfo = b.conds.length ? ` (tags ${b.conds.map(fmtCond).join(',')})` : '';
    const opaque = b.conds.find((c) => !c.neg && opaqueTags.has(c.name));
    const dropped = b.conds.find((c) => !c.neg && droppedRangeTags.has(c.name));
    const why = opaque
      ? `tag ${opaque.name} comes from line ${opaqueTags.get(opaque.name)}, which lanboot cannot evaluate`
      : dropped
        ? `tag ${dropped.name} belongs to the range on line ${droppedRangeTags.get(dropped.name)}, which was not carried over`
        : 'no client lanboot distinguishes (BIOS/UEFI/ARM x PXE/iPXE, per host) ends up with it';
    warn(warnings, b.line, `${b.source} ${b.file}${tagInfo} not carried over: ${why}`);
  }

  // Non-iPXE user classes are the client's word about itself: keep them as rules.
  const otherClasses = userClasses.filter((u) => u.match !== 'iPXE');
  const userClassesOut =
    otherClasses.length > 0
      ? [{ match: 'iPXE', ipxe: true }, ...otherClasses.map((u) => ({ match: u.match, ipxe: false, tag: u.tag }))]
      : undefined;

  // ---- TFTP ---------------------------------------------------------------
  let tftpOut: Record<string, unknown> | undefined;
  if (tftpEnabled) {
    tftpOut = { ...tftp };
    if (!tftp.root)
      warn(warnings, tftpEnableLine, 'enable-tftp without tftp-root: dnsmasq served its working directory; lanboot uses tftp.root (default /srv/tftp)');
  } else if (tftp.root) {
    warn(warnings, tftpRootLine, 'tftp-root without enable-tftp: another TFTP server serves these files; lanboot\'s TFTP left off');
  }

  // ---- assemble -------------------------------------------------------------
  const out: Record<string, unknown> = {};
  if (server) out.server = server;
  out.interfaces = interfaces;
  if (interfaces.length === 0 && subnets.length > 0)
    warn(warnings, 0, 'no interface= line: list the LAN interfaces in `interfaces:` (without them lanboot uses UDP sockets only)');
  if (subnets.length > 0) {
    const dhcp: Record<string, unknown> = { mode };
    dhcp.subnets = subnets.map(({ _sets, ...s }) => s);
    if (userClassesOut) dhcp.user_classes = userClassesOut;
    out.dhcp = dhcp;
  } else {
    warn(warnings, 0, 'no IPv4 dhcp-range: dnsmasq served no DHCP here, so the dhcp section is left out');
  }
  if (tftpOut) out.tftp = tftpOut;
  out.boot = boot;
  // The status page replaces watching dnsmasq's log: on, loopback only.
  out.admin = { address: '127.0.0.1', port: 8067 };
  out.hosts = Object.fromEntries(hostsOut);

  warnings.sort((a, b) => a.line - b.line);
  const doc = new Document(out);
  // Hosts one line each, as the config is meant to be written.
  const hostsNode = doc.get('hosts', true);
  if (isMap(hostsNode)) {
    if (hostsOut.length === 0) hostsNode.flow = true;
    for (const item of hostsNode.items) if (isPair(item) && isMap(item.value)) item.value.flow = true;
  }
  // Subnets are short enough to read on one line each, too.
  const subnetsNode = doc.getIn(['dhcp', 'subnets'], true);
  if (isSeq(subnetsNode)) for (const s of subnetsNode.items) if (isMap(s)) s.flow = true;
  const ifNode = doc.get('interfaces', true);
  if (isSeq(ifNode)) ifNode.flow = true;
  const header = [
    ` Imported from ${file} by \`lanboot import dnsmasq\`.`,
    ' Check it with `lanboot check --config THIS_FILE` before use.',
  ];
  // Included lines carry positions past the main file: give them back their file:line.
  const located = warnings.map((w) => {
    const at = where.get(w.line);
    return at ? { line: at.line, file: at.file, message: w.message } : w;
  });
  if (located.length) {
    header.push(' Not carried over (dnsmasq line: reason):');
    for (const w of located) header.push(`   ${w.file ? `${w.file}:` : ''}${w.line || '-'}: ${w.message}`);
  }
  doc.commentBefore = header.join('\n');
  return { yaml: doc.toString({ lineWidth: 0 }), warnings: located };
}

function fmtCond(c: Cond): string {
  return `tag:${c.neg ? '!' : ''}${c.name}`;
}
