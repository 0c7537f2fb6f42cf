/**
 * Load lanboot.yaml: parse with source positions, validate against the schema,
 * resolve paths and derived values. Every problem is reported as
 * `file:line:col: key: what is wrong; what to write instead`.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { LineCounter, parseDocument, isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { z } from 'zod';
import { root, type RawConfig, type RawHost } from './schema.js';
import type { BootKind, Config, HostConfig, RplImage, SubnetConfig } from './types.js';
import { inPrefix, ipv4ToNumber as ipToInt, numberToIpv4 as intToIp, prefixMask, broadcastOf as broadcastOfPrefix, normalizeMac } from '../net/address.js';

export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  key: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.key ? p.key + ': ' : ''}${p.message}`;
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ file, line: 0, col: 0, key: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file: string): Config {
  const lc = new LineCounter();
  // yaml's own uniqueKeys check compares each key with every earlier one (20,000 hosts: seconds); ours is linear.
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });
  const problems: ConfigProblem[] = [];
  const at = (offset: number | undefined) => {
    const p = lc.linePos(offset ?? 0);
    return { line: p.line, col: p.col };
  };
  for (const e of doc.errors) {
    problems.push({ file, ...at(e.pos[0]), key: '', message: e.message.split('\n')[0]! });
  }
  if (problems.length) throw new ConfigError(problems);
  for (const d of duplicateKeys(doc.contents, [])) {
    const first = at(d.first.range?.[0]);
    problems.push({
      file,
      ...at(d.again.range?.[0]),
      key: keyPath(d.path),
      message: `written twice in the same map (first at ${file}:${first.line}:${first.col}); keep one`,
    });
  }
  if (problems.length) throw new ConfigError(problems);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    // yaml refuses an alias that expands too far but does not say where: find it.
    const { node, path } = aliasBomb(doc, doc.contents, []);
    const names = isAlias(node) ? [node.source] : [...new Set(childrenOf(node).flatMap(([, c]) => (isAlias(c) ? [c.source] : [])))];
    const src = names.length === 1 && isAlias(node) ? `alias *${names[0]}` : `aliases ${names.map((n) => `*${n}`).join(' ') || 'here'}`;
    problems.push({
      file,
      ...at(node?.range?.[0]),
      key: keyPath(path),
      message: `${src} expand${isAlias(node) ? 's' : ''} to too many nodes (a YAML alias bomb?); write the values out instead of repeating aliases`,
    });
    throw new ConfigError(problems);
  }
  const result = root.safeParse(data);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(describeIssue(issue, doc, file, at));
    throw new ConfigError(problems);
  }
  const cfg = resolveConfig(result.data, file, (path, key) => {
    const n = key ? keyNode(doc, path.slice(0, -1), String(path[path.length - 1])) : nodeAt(doc, path);
    return { file, ...at(n?.range?.[0]) };
  }, problems);
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}

type Pos = { file: string; line: number; col: number };

/** Expanded nodes one alias may stand for (yaml's check against "billion laughs"). */
const MAX_ALIAS_COUNT = 100;

function childrenOf(node: unknown): [PropertyKey, unknown][] {
  if (isMap(node)) return node.items.map((p) => [isScalar(p.key) ? String(p.key.value) : '?', p.value]);
  if (isSeq(node)) return node.items.map((n, i) => [i, n]);
  return [];
}

/** The innermost node that alone still exceeds the alias limit, with its key path. */
function aliasBomb(doc: Document, node: unknown, path: PropertyKey[]): { node: Node | undefined; path: PropertyKey[] } {
  for (const [k, child] of childrenOf(node)) {
    try {
      (child as Node | null)?.toJS(doc, { maxAliasCount: MAX_ALIAS_COUNT });
    } catch {
      return aliasBomb(doc, child, [...path, k]);
    }
  }
  return { node: node as Node | undefined, path };
}

function keyPath(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
}

/** Every key written twice in one map, in document order (a Set per map: linear). */
function duplicateKeys(node: unknown, path: PropertyKey[], out: { path: PropertyKey[]; first: Node; again: Node }[] = []) {
  if (isMap(node)) {
    const seen = new Map<string, Node>();
    for (const it of node.items) {
      if (!isScalar(it.key)) continue;
      const k = String(it.key.value);
      const first = seen.get(k);
      if (first) out.push({ path: [...path, k], first, again: it.key });
      else seen.set(k, it.key);
      duplicateKeys(it.value, [...path, k], out);
    }
  } else if (isSeq(node)) node.items.forEach((n, i) => duplicateKeys(n, [...path, i], out));
  return out;
}

/** Pairs of a map by key, built once per map: a position lookup per host must not scan every host. */
const pairIndex = new WeakMap<YAMLMap, Map<string, Pair>>();
function pairOf(map: YAMLMap, key: string): Pair | undefined {
  let index = pairIndex.get(map);
  if (!index) {
    index = new Map();
    for (const it of map.items) if (isPair(it) && isScalar(it.key) && !index.has(String(it.key.value))) index.set(String(it.key.value), it);
    pairIndex.set(map, index);
  }
  return index.get(key);
}

/** The YAML node for a path; for a missing key, its parent. */
function nodeAt(doc: Document, path: PropertyKey[]): Node | undefined {
  let node: unknown = doc.contents;
  let last: Node | undefined = doc.contents ?? undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = pairOf(node, String(seg));
      if (!pair) return last;
      node = pair.value ?? pair.key;
      last = (pair.value as Node) ?? (pair.key as Node);
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (!node) return last;
      last = node as Node;
    } else return last;
  }
  return last;
}

function keyNode(doc: Document, path: PropertyKey[], key: string): Node | undefined {
  const parent = nodeAt(doc, path);
  if (isMap(parent)) {
    const pair = pairOf(parent, key);
    if (pair) return pair.key as Node;
  }
  return parent;
}

/**
 * Where a key path is written in a config's text: the line of its key, or of
 * the nearest parent that is written (a default sits under its section), 1
 * when none is. For findings about a valid config (`lanboot check`).
 */
export function positionsIn(text: string): (path: PropertyKey[]) => number {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false });
  return (path) => {
    for (let n = path.length; n > 0; n--) {
      const parent = nodeAt(doc, path.slice(0, n - 1));
      const seg = path[n - 1]!;
      let node: Node | undefined;
      if (isMap(parent)) node = pairOf(parent, String(seg))?.key as Node | undefined;
      else if (isSeq(parent) && typeof seg === 'number') node = parent.items[seg] as Node | undefined;
      // nodeAt stops at the last written parent: make sure the whole prefix is written.
      if (node?.range && n - 1 === writtenDepth(doc, path.slice(0, n - 1))) return lc.linePos(node.range[0]).line;
    }
    return 1;
  };
}

/** How many leading segments of `path` are written in the document. */
function writtenDepth(doc: Document, path: PropertyKey[]): number {
  let node: unknown = doc.contents;
  let depth = 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = pairOf(node, String(seg));
      if (!pair) break;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) node = node.items[seg];
    else break;
    depth++;
  }
  return depth;
}

function describeIssue(
  issue: z.core.$ZodIssue,
  doc: Document,
  file: string,
  at: (o: number | undefined) => { line: number; col: number },
): ConfigProblem {
  const path = issue.path as PropertyKey[];
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const n = keyNode(doc, path, key);
    const valid = validKeysAt(path);
    const near = closest(key, valid);
    return {
      file,
      ...at(n?.range?.[0]),
      key: keyPath([...path, key]),
      message:
        `unknown key "${key}"` +
        (near ? `; did you mean "${near}"?` : '') +
        (valid.length ? ` Valid here: ${valid.join(', ')}` : ''),
    };
  }
  const n = nodeAt(doc, path);
  let message = issue.message;
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) {
    message = `missing required key (expected ${issue.expected})`;
  } else if (issue.code === 'invalid_key') {
    message = issue.issues[0]?.message ?? message;
  } else if (issue.code === 'invalid_value' && 'values' in issue) {
    message = `expected one of: ${(issue.values as unknown[]).map(String).join(', ')}`;
  }
  return { file, ...at(n?.range?.[0]), key: keyPath(path), message };
}

/** Keys the schema allows at a path (for "did you mean"). */
function validKeysAt(path: PropertyKey[]): string[] {
  let s: z.ZodType = root;
  for (const seg of path) {
    s = unwrap(s);
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(seg)] ?? s;
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
  }
  s = unwrap(s);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) {
      s = (s as unknown as { unwrap(): z.ZodType }).unwrap();
    } else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else if (s instanceof z.ZodUnion) {
      const obj = (s.options as z.ZodType[]).find((o) => unwrap(o) instanceof z.ZodObject);
      if (!obj) return s;
      s = obj;
    } else return s;
  }
}

function closest(word: string, options: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const o of options) {
    // "blksize" should find "blksize_max": a key contained in another is a near miss.
    const d = o.includes(word) || word.includes(o) ? 1 : levenshtein(word, o);
    if (d < bestD) [best, bestD] = [o, d];
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

// ---- resolution -----------------------------------------------------------

export { normalizeMac };

function resolveConfig(
  raw: RawConfig,
  file: string,
  /** Position of the value at `path`, or of its key when `key` is set. */
  pos: (path: PropertyKey[], key?: boolean) => Pos,
  problems: ConfigProblem[],
): Config {
  const base = dirname(resolve(file));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const fail = (path: PropertyKey[], message: string) => problems.push({ ...pos(path), key: keyPath(path), message });

  const stateDir = abs(raw.state_dir);
  const subnets: SubnetConfig[] = (raw.dhcp?.subnets ?? []).map((s, i) => {
    const [net, bitsS] = s.subnet.split('/') as [string, string];
    const prefix = Number(bitsS);
    if (prefix > 32) fail(['dhcp', 'subnets', i, 'subnet'], `prefix /${prefix} is larger than 32`);
    const mask = prefixMask(Math.min(prefix, 32));
    const network = (ipToInt(net) & mask) >>> 0;
    if (network !== ipToInt(net)) {
      fail(['dhcp', 'subnets', i, 'subnet'], `${s.subnet} has host bits set; write ${intToIp(network)}/${prefix}`);
    }
    const inSubnet = (ip: string) => ((ipToInt(ip) & mask) >>> 0) === network;
    let range: SubnetConfig['range'];
    if (s.range) {
      const [start, end] = s.range.split('-').map((x) => x.trim()) as [string, string];
      if (!inSubnet(start) || !inSubnet(end)) fail(['dhcp', 'subnets', i, 'range'], `range ${s.range} is not inside ${s.subnet}`);
      else if (ipToInt(start) > ipToInt(end)) fail(['dhcp', 'subnets', i, 'range'], `range start is after its end; write ${end}-${start}`);
      range = { start, end };
    }
    if (s.router && !inSubnet(s.router)) fail(['dhcp', 'subnets', i, 'router'], `router ${s.router} is not inside ${s.subnet}`);
    const options: Record<number, string> = {};
    for (const [k, v] of Object.entries(s.options)) {
      const code = Number(k);
      if (code < 1 || code > 254) fail(['dhcp', 'subnets', i, 'options', k], 'option codes are 1..254');
      options[code] = Array.isArray(v) ? v.join(',') : String(v);
    }
    return { ...s, network: intToIp(network), prefix, netmask: intToIp(mask), range, options };
  });

  // Overlapping subnets make the second one partly unreachable: refuse at its position.
  subnets.forEach((b, j) => {
    const a = subnets.slice(0, j).find((a) => inCidr(b.network, a) || inCidr(a.network, b));
    if (a) fail(['dhcp', 'subnets', j, 'subnet'], `${b.subnet} overlaps ${a.subnet}; subnets must be disjoint`);
  });

  // allow_system_root is decided here, at load; services never see it.
  const tftpAllow = raw.tftp?.allow_system_root ?? false;
  const tftp = raw.tftp
    ? { ...without(raw.tftp, 'allow_system_root'), root: abs(raw.tftp.root), upload_dir: raw.tftp.upload_dir && abs(raw.tftp.upload_dir) }
    : null;
  const httpRoot = raw.http ? abs(raw.http.root ?? tftp?.root ?? '/srv/tftp') : undefined;
  const httpAllow = raw.http?.allow_system_root ?? (raw.http?.root === undefined && tftpAllow);
  const refuseSystem = (path: PropertyKey[], dir: string | undefined, overrideKey: string, allowed: boolean) => {
    const why = dir === undefined || allowed ? undefined : systemDirProblem(dir);
    if (why) fail(path, `${why}; write a directory of its own, e.g. /srv/tftp (or set ${overrideKey}: true to serve it anyway)`);
  };
  if (tftp) {
    refuseSystem(['tftp', 'root'], tftp.root, 'tftp.allow_system_root', tftpAllow);
    refuseSystem(['tftp', 'upload_dir'], tftp.upload_dir, 'tftp.allow_system_root', tftpAllow);
  }
  refuseSystem(raw.http?.root === undefined ? (raw.tftp ? ['tftp', 'root'] : ['http']) : ['http', 'root'], httpRoot, 'http.allow_system_root', httpAllow);
  // Uploads where machines boot from would let any host place (or replace) what others boot.
  if (tftp?.upload_dir) {
    for (const [key, dir] of [['tftp.root', tftp.root], ['http.root', httpRoot]] as const) {
      if (dir !== undefined && within(realOrResolved(tftp.upload_dir), realOrResolved(dir))) {
        fail(['tftp', 'upload_dir'], `${tftp.upload_dir} lies in ${key} (${dir}): any host could upload what others then boot; give uploads a directory of their own, e.g. /srv/tftp-uploads`);
        break;
      }
    }
  }
  if (tftp?.port_range && tftp.port_range[0] > tftp.port_range[1]) {
    fail(['tftp', 'port_range'], `first port is after the last; write [${tftp.port_range[1]}, ${tftp.port_range[0]}]`);
  }
  for (const [i, q] of (tftp?.quirks ?? []).entries()) {
    if (q.mac_prefix === undefined && q.arch === undefined && q.vendor_class === undefined) {
      fail(['tftp', 'quirks', i], 'a quirk needs at least one of mac_prefix, arch, vendor_class to select clients');
    }
  }

  const rplDefault: RplImage | undefined = raw.rpl ? raw.rpl.image : undefined;
  const hosts: HostConfig[] = [];
  const seenIp = new Map<string, string>();
  const seenName = new Map<string, string>();
  /** Host keys by MAC as lanboot reads it: 52:54:00:AA:.. and 52-54-00-aa-.. are one machine. */
  const seenMac = new Map<string, string>();
  for (const [key, value] of Object.entries(raw.hosts)) {
    const h: RawHost = value ?? {};
    const [macPart, bits] = key.split('/') as [string, string | undefined];
    const mac = normalizeMac(macPart);
    const prefixBits = bits === undefined ? 48 : Number(bits);
    const canonical = bits === undefined ? mac : `${mac}/${prefixBits}`;
    const first = seenMac.get(canonical);
    if (first !== undefined) {
      const a = pos(['hosts', first], true);
      problems.push({
        ...pos(['hosts', key], true),
        key: keyPath(['hosts', key]),
        message:
          `the same MAC as hosts.${first} at ${a.file}:${a.line}:${a.col} (case and separators do not matter); ` +
          `keep one entry, written ${canonical}`,
      });
      continue;
    }
    seenMac.set(canonical, key);
    const p = pos(['hosts', key]);
    if (prefixBits > 48) fail(['hosts', key], `prefix /${prefixBits} is longer than a MAC (48 bits)`);
    const name = h.name ?? `host-${mac.replace(/:/g, '')}`;
    if (h.ip && prefixBits < 48) {
      fail(['hosts', key, 'ip'], 'a MAC prefix matches many machines; ip: needs a full MAC (drop /' + prefixBits + ' or the ip)');
    }
    if (h.ip) {
      const special = subnets.find((s) => inCidr(h.ip!, s) && (h.ip === s.network || h.ip === broadcastOf(s) || h.ip === s.router));
      if (special) fail(['hosts', key, 'ip'], `${h.ip} is the network, broadcast or router address of ${special.subnet}`);
      if (raw.server && h.ip === raw.server) fail(['hosts', key, 'ip'], `${h.ip} is this server's own address (server:)`);
      const other = seenIp.get(h.ip);
      if (other) fail(['hosts', key, 'ip'], `${h.ip} is already the address of ${other}; each host needs its own`);
      seenIp.set(h.ip, key);
      if (raw.dhcp && raw.dhcp.mode === 'authoritative' && subnets.length && !subnets.some((s) => inCidr(h.ip!, s))) {
        fail(['hosts', key, 'ip'], `${h.ip} is in no configured subnet (${subnets.map((s) => s.subnet).join(', ')})`);
      }
    }
    if (h.name) {
      const other = seenName.get(h.name);
      if (other) fail(['hosts', key, 'name'], `name ${h.name} is already used by ${other}`);
      seenName.set(h.name, key);
    }
    let rpl: RplImage | undefined;
    if (h.rpl === true) {
      if (!rplDefault) fail(['hosts', key, 'rpl'], 'rpl: true needs an rpl: section (with its default image)');
      rpl = rplDefault;
    } else if (h.rpl) rpl = h.rpl;
    const boot: BootKind = h.boot ?? (rpl ? 'script' : raw.boot.default);
    if (boot === 'iscsi' && !raw.iscsi) fail(['hosts', key, 'boot'], 'boot: iscsi needs an iscsi: section (portal, target, initiator)');
    if (boot === 'linux' && !h.kernel) fail(['hosts', key], 'boot: linux needs kernel: (and usually initrd:, cmdline:)');
    if (boot === 'chain' && !h.chain) fail(['hosts', key], 'boot: chain needs chain: URL');
    if (h.reset_on_boot && !h.reset?.length) fail(['hosts', key, 'reset_on_boot'], 'reset_on_boot needs reset: [command, args...]');
    if (boot === 'menu' && !h.menu?.length) fail(['hosts', key], 'boot: menu needs menu: [entries], e.g. [iscsi, local]');
    hosts.push({ ...h, mac, prefix_bits: prefixBits, name, boot, rpl, line: p.line });
  }

  const dhcp = raw.dhcp
    ? {
        ...raw.dhcp,
        lease_file: abs(raw.dhcp.lease_file ?? resolve(stateDir, 'leases.journal')),
        subnets,
      }
    : null;
  if (dhcp && dhcp.mode === 'authoritative' && subnets.length === 0) {
    fail(['dhcp', 'subnets'], 'authoritative mode needs at least one subnet, e.g. - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.199 }');
  }

  const rpl = raw.rpl
    ? {
        ...raw.rpl,
        interfaces: raw.rpl.interfaces ?? raw.interfaces ?? [],
        block_size: raw.rpl.block_size - (raw.rpl.block_size % 16),
      }
    : null;
  if (rpl && rpl.interfaces.length === 0) {
    fail(['rpl'], 'the RPL responder needs an interface: set rpl.interfaces or interfaces (RPL frames carry no IP address, so it is not found by subnet)');
  }
  for (const [i, name] of raw.except_interfaces.entries()) {
    if (raw.interfaces?.includes(name)) fail(['except_interfaces', i], `${name} is also listed in interfaces; keep it in one of them`);
  }

  // Every key the schema knows passes through; only what is resolved here is written out.
  return {
    ...raw,
    file,
    // Unset is a choice (serve interfaces by subnet): the key is there, undefined.
    interfaces: raw.interfaces,
    state_dir: stateDir,
    dhcp,
    tftp,
    http: raw.http ? { ...without(raw.http, 'allow_system_root'), root: httpRoot! } : null,
    rpl,
    admin: raw.admin ?? null,
    boot: {
      ...raw.boot,
      script:
        raw.boot.script ?? (raw.http ? 'http://{http}/boot/{mac}.ipxe' : 'tftp://{tftp}/boot/{mac}.ipxe'),
    },
    iscsi: raw.iscsi ?? null,
    hosts,
  };
}

function without<T extends object, K extends keyof T>(o: T, key: K): Omit<T, K> {
  const { [key]: _, ...rest } = o;
  return rest;
}

/**
 * Directories a served root must neither be nor contain: system secrets live
 * there (/etc/shadow, SSH keys, other services' state, kernel interfaces).
 * Inside /etc, /proc, /sys and /dev nothing is boot material either.
 */
const SYSTEM_DIRS = ['/etc', '/root', '/home', '/proc', '/sys', '/dev', '/run', '/var/lib', '/var/log'];
const NEVER_INSIDE = ['/etc', '/proc', '/sys', '/dev'];

/** Why `dir` must not be served, or undefined. Symlinks are followed when the path exists. */
/** The directory as it really is (symlinks followed); as written when it is not there yet (or on another machine). */
function realOrResolved(dir: string): string {
  try {
    return realpathSync(resolve(dir));
  } catch {
    return resolve(dir);
  }
}

/** a is b or lies below it. */
function within(a: string, b: string): boolean {
  const r = relative(b, a);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

function systemDirProblem(dir: string): string | undefined {
  const real = realOrResolved(dir);
  const shown = real === resolve(dir) ? real : `${resolve(dir)} (really ${real})`;
  for (const sys of SYSTEM_DIRS) {
    if (real === sys) return `${shown} is ${sys}: files such as ${sys === '/etc' ? '/etc/shadow' : `those in ${sys}`} would be served`;
    if (within(sys, real)) return `${shown} contains ${sys}: files such as ${sys === '/etc' ? '/etc/shadow' : `those in ${sys}`} would be served`;
  }
  for (const sys of NEVER_INSIDE) {
    if (within(real, sys)) return `${shown} is inside ${sys}: system files would be served`;
  }
  return undefined;
}

function broadcastOf(s: SubnetConfig): string {
  return broadcastOfPrefix(s.network, s.prefix);
}

function inCidr(ip: string, s: SubnetConfig): boolean {
  return inPrefix(ip, s.network, s.prefix);
}
