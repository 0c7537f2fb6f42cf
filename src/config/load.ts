/**
 * Load lanboot.yaml: parse with source positions, validate against the schema,
 * resolve paths and derived values. Every problem is reported as
 * `file:line:col: key: what is wrong; what to write instead`.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { root, type RawConfig, type RawHost } from './schema.js';
import type { BootKind, Config, HostConfig, RplImage, SubnetConfig } from './types.js';
import { inPrefix, ipToNumber as ipToInt, numberToIp as intToIp, prefixMask } from '../codec/ipv4.js';

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
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  const at = (offset: number | undefined) => {
    const p = lc.linePos(offset ?? 0);
    return { line: p.line, col: p.col };
  };
  for (const e of doc.errors) {
    problems.push({ file, ...at(e.pos[0]), key: '', message: e.message.split('\n')[0]! });
  }
  if (problems.length) throw new ConfigError(problems);

  const data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const result = root.safeParse(data);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(describeIssue(issue, doc, file, at));
    throw new ConfigError(problems);
  }
  const cfg = resolveConfig(result.data, file, (path) => {
    const n = nodeAt(doc, path);
    return { file, ...at(n?.range?.[0]) };
  }, problems);
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}

type Pos = { file: string; line: number; col: number };

function keyPath(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
}

/** The YAML node for a path; for a missing key, its parent. */
function nodeAt(doc: Document, path: PropertyKey[]): Node | undefined {
  let node: unknown = doc.contents;
  let last: Node | undefined = doc.contents ?? undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
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
    const pair = parent.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === key);
    if (pair) return pair.key as Node;
  }
  return parent;
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

export function normalizeMac(mac: string): string {
  return mac.toLowerCase().replace(/-/g, ':');
}

function resolveConfig(
  raw: RawConfig,
  file: string,
  pos: (path: PropertyKey[]) => Pos,
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
    return {
      subnet: s.subnet,
      network: intToIp(network),
      prefix,
      netmask: intToIp(mask),
      range,
      router: s.router,
      dns: s.dns,
      domain: s.domain,
      lease: s.lease,
      interface: s.interface,
      options,
      ...(s.proxy !== undefined ? { proxy: s.proxy } : {}),
    };
  });

  // Overlapping subnets make the second one partly unreachable: refuse at its position.
  subnets.forEach((b, j) => {
    const a = subnets.slice(0, j).find((a) => inCidr(b.network, a) || inCidr(a.network, b));
    if (a) fail(['dhcp', 'subnets', j, 'subnet'], `${b.subnet} overlaps ${a.subnet}; subnets must be disjoint`);
  });

  const tftp = raw.tftp ? { ...raw.tftp, root: abs(raw.tftp.root), upload_dir: raw.tftp.upload_dir && abs(raw.tftp.upload_dir) } : null;
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
  for (const [key, value] of Object.entries(raw.hosts)) {
    const h: RawHost = value ?? {};
    const [macPart, bits] = key.split('/') as [string, string | undefined];
    const mac = normalizeMac(macPart);
    const prefixBits = bits === undefined ? 48 : Number(bits);
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
    hosts.push({
      mac,
      prefix_bits: prefixBits,
      name,
      ip: h.ip,
      boot,
      ipxe: h.ipxe,
      bootfile: h.bootfile,
      kernel: h.kernel,
      initrd: h.initrd,
      cmdline: h.cmdline,
      chain: h.chain,
      menu: h.menu,
      rpl,
      drives: h.drives,
      reset: h.reset,
      reset_on_boot: h.reset_on_boot,
      ...(h.slots ? { slots: h.slots } : {}),
      line: p.line,
    });
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
        interfaces: raw.rpl.interfaces ?? raw.interfaces,
        block_size: raw.rpl.block_size - (raw.rpl.block_size % 16),
      }
    : null;
  if (rpl && rpl.interfaces.length === 0) fail(['rpl'], 'the RPL responder needs an interface: set rpl.interfaces or interfaces');

  return {
    file,
    server: raw.server,
    interfaces: raw.interfaces,
    log: raw.log,
    user: raw.user,
    group: raw.group,
    state_dir: stateDir,
    dhcp,
    tftp,
    http: raw.http ? { ...raw.http, root: abs(raw.http.root ?? tftp?.root ?? '/srv/tftp') } : null,
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

function broadcastOf(s: SubnetConfig): string {
  return intToIp((ipToInt(s.network) | (~prefixMask(s.prefix) >>> 0)) >>> 0);
}

function inCidr(ip: string, s: SubnetConfig): boolean {
  return inPrefix(ip, s.network, s.prefix);
}
