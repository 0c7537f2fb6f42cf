/**
 * Stage 6: dnsmasq's answers written as lanboot config. Each boot slot gets
 * what dnsmasq hands that kind of client (none where it hands nothing); iPXE
 * gets its own answer, or is answered like its ROM when dnsmasq does not tell
 * them apart; pxe-service/pxe-prompt become boot.menu/boot.prompt with the
 * tags behind them turned into item conditions; hosts get their own slots
 * where their tags change the answer. Warnings name what lanboot cannot
 * carry and what will behave differently.
 */
import type { ImportWarning } from '../types.js';
import { ANY_MAC, kind, KINDS, type KindId } from './clients.js';
import { answer, type Answer } from './answers.js';
import { isIpv4, type Cond, type Host, type Model, type Range, type Service } from './model.js';
import { inPrefix, netmaskToPrefix, networkOf } from '../../../net/address.js';
import { clientTags } from './tags.js';

/** Boot slots and the client kind each is decided on. */
const SLOTS: Array<[string, KindId]> = [
  ['bios', 'bios'], ['uefi', 'uefi'], ['uefi32', 'uefi32'], ['arm32', 'arm32'], ['arm64', 'arm64'], ['http_boot', 'http'],
];
const LABEL: Record<string, string> = { bios: 'BIOS PXE ROMs', uefi: 'x86-64 UEFI', uefi32: 'IA32 UEFI', arm32: 'ARM32 UEFI', arm64: 'ARM64 UEFI', http_boot: 'UEFI HTTP boot clients' };

/** Braces are template syntax in lanboot; iPXE's ${var} must survive as text. */
export function escapeTemplate(s: string): string {
  return s.replace(/[{}]/g, (c) => c + c);
}

const fmtCond = (c: Cond) => `tag:${c.neg ? '!' : ''}${c.name}`;

/** A lease time as lanboot writes it. */
function leaseOut(s: number): string | number {
  for (const [u, n] of [['w', 604800], ['d', 86400], ['h', 3600], ['m', 60]] as const) if (s % n === 0) return `${s / n}${u}`;
  return s;
}

export interface Emitted {
  config: Record<string, unknown>;
  /** Hosts in order, for the YAML writer. */
  hostCount: number;
}

interface Subnet {
  subnet: string;
  range?: string;
  interface?: string;
  router?: string;
  dns?: string[];
  domain?: string;
  lease?: string | number;
  proxy?: boolean;
  options?: Record<string, string | string[]>;
  _range: Range;
}

export function emit(m: Model, warnings: ImportWarning[]): Emitted {
  const warn = (line: number, message: string) => warnings.push({ line, message });
  const pools = m.ranges.filter((r) => r.kind !== 'proxy');
  const proxies = m.ranges.filter((r) => r.kind === 'proxy');
  const mixed = pools.length > 0 && proxies.length > 0;
  const mode: 'authoritative' | 'proxy' = pools.length > 0 ? 'authoritative' : 'proxy';

  // ---- subnets ---------------------------------------------------------
  const subnets: Subnet[] = [];
  for (const r of [...pools, ...proxies]) {
    let prefix = r.netmask ? netmaskToPrefix(r.netmask) : 24;
    if (prefix === undefined) {
      warn(r.line, `netmask ${r.netmask} is not a valid mask; assumed /24`);
      prefix = 24;
    } else if (!r.netmask) warn(r.line, 'no netmask (dnsmasq takes it from the interface): assumed /24, check `subnet:`');
    const net = networkOf(r.start, prefix) + '/' + prefix;
    const existing = subnets.find((s) => s.subnet === net);
    if (existing) {
      if (r.end && existing.range) warn(r.line, `second range in ${net}: lanboot has one pool per subnet; not carried over`);
      else if (r.end) existing.range = `${r.start}-${r.end}`;
      continue;
    }
    const s: Subnet = { subnet: net, _range: r };
    if (r.kind === 'pool' && r.end) s.range = `${r.start}-${r.end}`;
    if (r.kind === 'proxy' && mixed) s.proxy = true;
    if (r.kind !== 'proxy') {
      if (r.lease === 'infinite') warn(r.line, "infinite lease: lanboot leases expire; lanboot's default (12h) used");
      else s.lease = leaseOut(r.lease ?? 3600); // dnsmasq's default lease is one hour (lanboot's is 12h)
    }
    // dnsmasq tags each request with its interface's name: tag:eth1 on a range serves it on eth1 only.
    const onIface = r.conds.find((c) => !c.neg && isInterfaceTag(m, c.name));
    if (onIface) s.interface = onIface.name;
    const rest = r.conds.filter((c) => c !== onIface);
    if (rest.length) warn(r.line, `range conditions (${rest.map(fmtCond).join(',')}) not carried over`);
    subnets.push(s);
  }

  // ---- what dnsmasq answers each kind ------------------------------------
  const main = pools[0] ?? proxies[0];
  const inProxy = !pools[0];
  // With dhcp-ignore=tag:!known only hosts are answered: the slots are what a host without tags gets.
  const unknownIgnored = m.ignores.find((i) => i.conds.length === 1 && i.conds[0]!.name === 'known' && i.conds[0]!.neg);
  const anyHost: Host | undefined = unknownIgnored ? { line: 0, macs: [ANY_MAC], sets: [], ignore: false } : undefined;
  const ans = (id: KindId, where: { range?: Range; proxy?: boolean; host?: Host; mac?: string } = {}): Answer =>
    answer(m, kind(id), where.mac ?? ANY_MAC, { range: where.range ?? main, proxy: where.proxy ?? inProxy, host: where.host ?? anyHost });
  /** The file a kind boots: in proxy mode find_boot()'s line (the menu code adds the rest). */
  const fileOf = (a: Answer, proxy: boolean) => (a.silent ? undefined : proxy ? a.boot?.file : a.file);

  const boot: Record<string, unknown> = {};
  const used = new Set<Answer>();
  for (const [slot, id] of SLOTS) {
    const a = ans(id);
    used.add(a);
    const f = fileOf(a, inProxy);
    boot[slot] = f === undefined ? 'none' : slot === 'http_boot' ? escapeTemplate(f) : f;
  }
  const fUefi = fileOf(ans('uefi'), inProxy);
  const fUefi9 = fileOf(ans('uefi9'), inProxy);
  if (fUefi !== fUefi9)
    warn(0, `x86-64 UEFI gets ${fUefi ?? 'nothing'} as arch 7 but ${fUefi9 ?? 'nothing'} as arch 9; lanboot answers both like arch 7 (boot.uefi)`);
  const fHttp19 = fileOf(ans('http-arm64'), inProxy);
  if (fHttp19 !== fileOf(ans('http'), inProxy))
    warn(0, `ARM64 UEFI HTTP boot (arch 19) gets ${fHttp19 ?? 'nothing'}, x86-64 (arch 16) ${fileOf(ans('http'), inProxy) ?? 'nothing'}; lanboot has one boot.http_boot (the arch 16 one)`);
  if (mixed) {
    for (const [slot, id] of SLOTS) {
      const p = fileOf(ans(id, { range: proxies[0], proxy: true }), true);
      const here = boot[slot] === 'none' ? undefined : String(boot[slot]);
      if (p !== here && p !== undefined)
        warn(proxies[0]!.line, `in the proxy range ${LABEL[slot]} get ${p}, elsewhere ${here ?? 'nothing'}; lanboot has one boot.${slot}`);
    }
  }

  // iPXE: its own answer, or none of its own when dnsmasq answers it like the ROM.
  const ib = ans('ipxe-bios');
  const iu = ans('ipxe-uefi');
  const likeRom = (where: { host?: Host; mac?: string }) =>
    fileOf(ans('ipxe-bios', where), inProxy) === fileOf(ans('bios', where), inProxy) &&
    fileOf(ans('ipxe-uefi', where), inProxy) === fileOf(ans('uefi', where), inProxy);
  const ipxeLikeRom = likeRom({}) && m.hosts.every((h) => likeRom({ host: h, mac: h.macs[0] }));
  if (ipxeLikeRom) boot.detect_ipxe = false;
  else {
    used.add(ib);
    const s = fileOf(ib, inProxy);
    boot.script = s === undefined ? 'none' : escapeTemplate(s);
    const su = fileOf(iu, inProxy);
    if (su !== s) warn(0, `iPXE on UEFI gets ${su ?? 'nothing'} but on BIOS ${s ?? 'nothing'}: lanboot has one boot.script (the BIOS one); iPXE on UEFI will get ${s ?? 'nothing'}`);
  }

  // Vendor options: only what dnsmasq sends.
  boot.pxe_options = m.enablePxe;
  const http = ans('http');
  const http60 = http.vendorClass;
  boot.http_client = http60 !== undefined && /^HTTPClient/i.test(http60);
  for (const id of ['http', 'http-arm64'] as const) {
    const v = ans(id).vendorClass;
    if (v !== undefined && v !== 'HTTPClient' && /^HTTPClien/i.test(v) && ans(id).options.get(60))
      warn(ans(id).options.get(60)!.line, `option 60 "${v}" is not "HTTPClient": UEFI HTTP boot clients ignore such offers; lanboot sends HTTPClient (they will now accept it)`);
  }
  const httpFile = fileOf(http, inProxy);
  if (httpFile !== undefined && !boot.http_client && !/^https?:\/\//i.test(httpFile))
    warn((http.fileFrom as { line?: number } | undefined)?.line ?? 0, `UEFI HTTP boot clients are handed ${httpFile} without option 60 HTTPClient, which they ignore (as with dnsmasq)`);
  const arm = fileOf(ans('arm64'), inProxy);
  if (arm !== undefined && /\.(kpxe|pxe|0)$/i.test(arm))
    warn((ans('arm64').fileFrom as { line?: number } | undefined)?.line ?? 0, `ARM64 UEFI is handed ${arm}, a BIOS boot file, as with dnsmasq; it cannot run it`);
  const noPxeDhcp = m.options.some((o) => o.encap === 175 && o.code === 176);
  boot.ipxe_no_pxedhcp = noPxeDhcp;
  for (const o of m.options) {
    if (o.encap === 175 && o.code !== 176) warn(o.line, `iPXE setting 175.${o.code}: lanboot has no key for it; not carried over`);
    else if (o.encap !== undefined && o.encap !== 175) warn(o.line, `encap:${o.encap} options: not carried over`);
    else if (o.vendor !== undefined) warn(o.line, `vendor:${o.vendor} option ${o.code} (inside option 43): not carried over`);
  }

  // Next server and server name of the dhcp-boot lines used.
  const lines = [...used].map((a) => a.boot).filter((b): b is NonNullable<typeof b> => !!b);
  const servers = new Set(lines.map((b) => b.server).filter((s): s is string => !!s));
  if (servers.size === 1) boot.next_server = [...servers][0];
  else if (servers.size > 1) warn(0, `dhcp-boot lines name different boot servers (${[...servers].join(', ')}); lanboot has one (boot.next_server); none set`);
  if (servers.size === 1 && lines.some((b) => !b.server))
    warn(0, `some dhcp-boot lines name boot server ${[...servers][0]}, others none (dnsmasq itself); lanboot sends ${[...servers][0]} to all`);
  for (const b of lines) if (b.tftpName) warn(b.line, `dhcp-boot boot server "${b.tftpName}" is a name dnsmasq looks up in /etc/hosts; not carried over`);
  // Option 66 as an address: lanboot sends its next server there, so that is where it goes.
  const o66 = m.options.find((o) => o.code === 66 && o.conds.length === 0 && o.values.length === 1 && isIpv4(o.values[0]));
  if (o66 && servers.size === 0) {
    boot.next_server = o66.values[0];
    warn(o66.line, `tftp-server (66) ${o66.values[0]} becomes boot.next_server: lanboot sends it in siaddr too (dnsmasq sent its own address there; no change when that is ${o66.values[0]})`);
  }
  const snames = new Set(lines.map((b) => b.sname).filter((s): s is string => !!s));
  if (snames.size === 1) boot.server_name = [...snames][0];
  else if (snames.size > 1) warn(0, `dhcp-boot lines name different server names (${[...snames].join(', ')}); lanboot has one (boot.server_name); none set`);

  // ---- PXE menu ----------------------------------------------------------
  const menu = m.services.map((s) => menuItem(m, s, warn, pools, proxies)).filter((x): x is Record<string, unknown> => !!x);
  if (menu.length) boot.menu = menu;
  if (m.prompt) boot.prompt = { text: m.prompt.text, timeout: m.prompt.timeout };
  if (m.ranges.length && !m.enablePxe && mode === 'proxy')
    warn(proxies[0]!.line, 'dnsmasq answers no PXE client with this config (a proxy range needs pxe-service or pxe-prompt), and neither does this import: set boot.bios/uefi to boot them');

  // ---- options -------------------------------------------------------------
  const rangeTags = new Set([...m.ranges.map((r) => r.tag), ...subnets.map((s) => s.interface)].filter((t): t is string => !!t));
  for (const o of m.options) {
    if (o.vendor !== undefined || o.encap !== undefined) continue;
    if ([67, 60].includes(o.code) && o.conds.some((c) => !rangeTags.has(c.name))) continue; // per client kind: in the slots above
    const targets = o.conds.length === 0 ? subnets : subnets.filter((s) => o.conds.every((c) => !c.neg && (s._range.tag === c.name || s.interface === c.name)));
    if (o.conds.length && targets.length === 0) {
      warn(o.line, `option ${o.code} for ${o.conds.map(fmtCond).join(',')}: lanboot sets options per subnet; not carried over`);
      continue;
    }
    if ([1, 28, 51, 54, 58, 59, 67, 60].includes(o.code)) continue; // derived by lanboot, or in the slots
    if (o === o66) continue; // boot.next_server
    for (const s of targets) {
      if (s.proxy) continue;
      switch (o.code) {
        case 3: {
          const ip = o.values.find((x) => isIpv4(x) && x !== '0.0.0.0');
          if (ip) s.router = ip;
          break;
        }
        case 6: {
          const list = o.values.filter((x) => isIpv4(x) && x !== '0.0.0.0');
          if (o.values.includes('0.0.0.0') && s === targets[0])
            warn(o.line, "dns-server 0.0.0.0 (dnsmasq itself) dropped: put this server's address in `dns:` if it runs a resolver");
          if (list.length) s.dns = list;
          break;
        }
        case 15:
          if (o.values[0]) s.domain = o.values[0];
          break;
        case 12:
          if (s === targets[0]) warn(o.line, 'hostname (12) comes from hosts: entries; not carried over');
          break;
        default:
          if (o.values.length === 0) break;
          s.options ??= {};
          s.options[String(o.code)] = o.values.length === 1 ? o.values[0]! : o.values;
      }
    }
  }
  if (m.domain) for (const s of subnets) if (!s.proxy) s.domain ??= m.domain;

  // ---- hosts ---------------------------------------------------------------
  const hostsOut: Array<[string, Record<string, unknown>]> = [];
  const seen = new Set<string>();
  for (const h of m.hosts) {
    const mac = h.macs[0]!;
    if (seen.has(mac)) {
      warn(h.line, `${mac} appears again; the later entry is not carried over`);
      continue;
    }
    seen.add(mac);
    const e: Record<string, unknown> = {};
    if (h.name) e.name = h.name;
    if (h.ip) e.ip = h.ip;
    if (h.ignore) {
      e.boot = 'none';
      warn(h.line, 'dhcp-host ...,ignore: dnsmasq never answers this machine; lanboot gives it no boot answer but still leases it an address');
    } else {
      const slots: Record<string, string> = {};
      for (const [slot, id] of SLOTS) {
        const mine = fileOf(ans(id, { host: h, mac }), inProxy);
        const all = fileOf(ans(id), inProxy);
        if (mine !== all) slots[slot] = mine === undefined ? 'none' : slot === 'http_boot' ? escapeTemplate(mine) : mine;
      }
      if (boot.detect_ipxe !== false) {
        const mine = fileOf(ans('ipxe-bios', { host: h, mac }), inProxy);
        if (mine !== fileOf(ib, inProxy)) slots.script = mine === undefined ? 'none' : escapeTemplate(mine);
      }
      if (Object.keys(slots).length) e.slots = slots;
    }
    hostsOut.push([mac, e]);
  }

  // ---- boot lines no client kind gets -------------------------------------
  const selected = new Set<unknown>();
  for (const k of KINDS) {
    selected.add(ans(k.id).boot);
    selected.add(ans(k.id).fileFrom);
    for (const r of proxies) selected.add(ans(k.id, { range: r, proxy: true }).boot);
    for (const h of m.hosts) selected.add(ans(k.id, { host: h, mac: h.macs[0] }).boot);
  }
  const setters = tagSources(m);
  for (const t of deadTags(m)) setters.delete(t);
  for (const b of m.boots) {
    if (selected.has(b)) continue;
    const never = b.conds.find((c) => !c.neg && !setters.has(c.name));
    if (never) continue; // dnsmasq never uses it either: its tag is set nowhere
    const opaque = b.conds.find((c) => !c.neg && m.opaque.has(c.name));
    const why = opaque
      ? `tag ${opaque.name} comes from line ${m.opaque.get(opaque.name)}, which lanboot cannot evaluate`
      : 'no client lanboot tells apart (BIOS, UEFI, ARM, HTTP boot, iPXE, per host) gets it';
    warn(b.line, `dhcp-boot ${b.file}${b.conds.length ? ` (${b.conds.map(fmtCond).join(',')})` : ''} not carried over: ${why}`);
  }
  for (const mt of m.matches) {
    if (mt.code === 60 && HEX_ARCH.test(mt.value?.bytes.toString('latin1') ?? ''))
      warn(mt.line, `${mt.value!.bytes.toString('latin1')} never matches: clients write the architecture in decimal (ARM64 sends PXEClient:Arch:00011); as with dnsmasq, tag ${mt.tag} is never set`);
  }
  for (const c of m.classes) {
    if (c.kind === 'vendor' && HEX_ARCH.test(c.data.toString('latin1')))
      warn(c.line, `${c.data.toString('latin1')} never matches: clients write the architecture in decimal (ARM64 sends PXEClient:Arch:00011); as with dnsmasq, tag ${c.tag} is never set`);
  }

  // Non-iPXE user classes are the client's word about itself: keep them as rules.
  const otherClasses = m.classes.filter((c) => c.kind === 'user' && c.data.toString('latin1') !== 'iPXE');

  if (unknownIgnored) {
    boot.unknown_clients = false;
    warn(unknownIgnored.line, 'dhcp-ignore=tag:!known: boot.unknown_clients false; unlike dnsmasq, lanboot still leases addresses to unknown machines (they get no boot answer)');
  }
  for (const i of m.ignores) if (i !== unknownIgnored) warn(i.line, `dhcp-ignore ${i.conds.map(fmtCond).join(',')}: not carried over`);

  // ---- TFTP and the rest -----------------------------------------------------
  let tftpOut: Record<string, unknown> | undefined;
  if (m.tftp.enabled) {
    tftpOut = { ...(m.tftp.root ? { root: m.tftp.root } : {}), ...m.tftp.settings };
    if (!m.tftp.root)
      warn(m.tftp.enableLine, 'enable-tftp without tftp-root: dnsmasq served its working directory; lanboot uses tftp.root (default /srv/tftp)');
  } else if (m.tftp.root) {
    warn(m.tftp.rootLine, "tftp-root without enable-tftp: another TFTP server serves these files; lanboot's TFTP left off");
  }

  // Without interface= lanboot, like dnsmasq, serves every interface with an address in a subnet.
  const out: Record<string, unknown> = {};
  const both = m.exceptInterfaces.filter((i) => m.interfaces.includes(i));
  for (const i of both) warn(0, `${i} is named by interface= and except-interface=: dnsmasq does not serve it, and neither does lanboot (left out of interfaces)`);
  if (m.interfaces.length) out.interfaces = m.interfaces.filter((i) => !both.includes(i));
  const except = m.exceptInterfaces.filter((i) => !both.includes(i));
  if (except.length) out.except_interfaces = except;
  for (const la of m.listenAddresses) {
    if (!m.interfaces.length && isIpv4(la.address) && subnets.some((s) => inSubnet(la.address, s.subnet))) continue; // the interface holding it is served by subnet
    warn(la.line, `listen-address=${la.address}: lanboot serves interfaces, not addresses; ${m.interfaces.length ? 'interfaces: from interface= lines' : 'it serves every interface with an address in a subnet'}; not carried over`);
  }
  if (subnets.length > 0) {
    const dhcp: Record<string, unknown> = { mode };
    dhcp.subnets = subnets.map(({ _range, ...s }) => (mode === 'proxy' ? { subnet: s.subnet, ...(s.interface ? { interface: s.interface } : {}) } : s));
    if (otherClasses.length) {
      dhcp.user_classes = [
        { match: 'iPXE', ipxe: true },
        ...otherClasses.map((u) => ({ match: u.data.toString('latin1'), ipxe: false, tag: u.tag })),
      ];
    }
    out.dhcp = dhcp;
  } else {
    warn(0, 'no IPv4 dhcp-range: dnsmasq served no DHCP here, so the dhcp section is left out');
  }
  if (tftpOut) out.tftp = tftpOut;
  out.boot = boot;
  // The status page replaces watching dnsmasq's log: on, loopback only.
  out.admin = { address: '127.0.0.1', port: 8067 };
  out.hosts = Object.fromEntries(hostsOut);
  return { config: out, hostCount: hostsOut.length };
}

/**
 * A range condition on an interface's name: one interface= names, or a tag no
 * line sets (only the interface a request came in on can set it).
 */
function isInterfaceTag(m: Model, tag: string): boolean {
  if (m.interfaces.includes(tag)) return true;
  const s = tagSources(m);
  for (const i of m.interfaces) s.delete(i);
  return !s.has(tag) && /^[a-z][a-z0-9._-]{0,14}$/i.test(tag);
}

function inSubnet(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/') as [string, string];
  return inPrefix(ip, net, Number(bits));
}

/** Tags some line can set (a tag no line sets makes a condition on it always false). */
function tagSources(m: Model): Set<string> {
  const s = new Set<string>(['known']);
  for (const r of m.ranges) if (r.tag) s.add(r.tag);
  for (const h of m.hosts) for (const t of h.sets) s.add(t);
  for (const x of m.matches) s.add(x.tag);
  for (const x of m.classes) s.add(x.tag);
  for (const x of m.macTags) s.add(x.tag);
  for (const x of m.tagIfs) for (const t of x.sets) s.add(t);
  for (const t of m.opaque.keys()) s.add(t);
  for (const i of m.interfaces) s.add(i);
  return s;
}

/**
 * One pxe-service as a boot.menu item. Its tags become conditions lanboot
 * can test: the proxy range's tag (proxy), iPXE detection (ipxe), dhcp-mac
 * patterns (macs), an architecture tag agreeing with the item's own arch.
 */
function menuItem(
  m: Model,
  s: Service,
  warn: (line: number, message: string) => void,
  pools: Range[],
  proxies: Range[],
): Record<string, unknown> | undefined {
  const item: Record<string, unknown> = { text: s.menu, arch: [s.csa] };
  if (s.basename) item.file = s.basename.includes('.') ? s.basename : `${s.basename}.0`;
  item.type = s.type;
  if (s.server) item.server = s.server;
  if (s.sname) warn(s.line, `pxe-service boot server "${s.sname}" is a name dnsmasq looks up in /etc/hosts; this server is used instead`);
  const setters = tagSources(m);
  const on = (id: KindId, range?: Range) => clientTags(m, kind(id).request(ANY_MAC), { range });
  for (const c of s.conds) {
    const proxyTag = proxies.some((r) => r.tag === c.name);
    const poolTag = pools.some((r) => r.tag === c.name);
    if (proxyTag || poolTag) {
      item.proxy = proxyTag !== c.neg;
      continue;
    }
    if (!setters.has(c.name)) {
      if (c.neg) continue; // never set: the condition always holds
      return undefined; // never set: dnsmasq never offers this entry either
    }
    const macLines = m.macTags.filter((t) => t.tag === c.name);
    if (macLines.length && !c.neg && onlyMacSets(m, c.name)) {
      const keys: string[] = [];
      for (const t of macLines) {
        const fixed = t.bytes.findIndex((b) => b === null);
        const n = fixed < 0 ? 6 : fixed;
        if (t.bytes.slice(n).some((b) => b !== null)) {
          warn(t.line, 'dhcp-mac with a wildcard before fixed bytes: lanboot matches MAC prefixes only; not carried over');
          continue;
        }
        const mac = t.bytes.map((b) => (b ?? 0).toString(16).padStart(2, '0')).join(':');
        keys.push(n === 6 ? mac : `${mac}/${n * 8}`);
      }
      item.macs = keys;
      continue;
    }
    // Evaluate the tag on the client kinds: iPXE detection, or an architecture tag.
    const ipxeOn = ['ipxe-bios', 'ipxe-uefi'].every((k) => on(k as KindId).has(c.name));
    const romOn = ['bios', 'uefi', 'uefi9', 'uefi32', 'arm32', 'arm64'].some((k) => on(k as KindId).has(c.name));
    if (ipxeOn && !romOn) {
      item.ipxe = !c.neg;
      continue;
    }
    const archKinds = KINDS.filter((k) => k.arch === s.csa && !k.ipxe);
    if (archKinds.length && archKinds.every((k) => on(k.id).has(c.name) !== c.neg)) continue; // agrees with the item's arch
    if (archKinds.length && archKinds.every((k) => on(k.id).has(c.name) === c.neg)) return undefined; // never for this arch
    warn(s.line, `pxe-service condition ${fmtCond(c)}: lanboot cannot tell which clients have this tag; the entry is offered without it`);
  }
  return item;
}

/** The tag is set by dhcp-mac lines and nothing else. */
function onlyMacSets(m: Model, tag: string): boolean {
  return (
    !m.matches.some((x) => x.tag === tag) &&
    !m.classes.some((x) => x.tag === tag) &&
    !m.tagIfs.some((x) => x.sets.includes(tag)) &&
    !m.hosts.some((h) => h.sets.includes(tag)) &&
    !m.ranges.some((r) => r.tag === tag)
  );
}

/** An architecture written in hex in a vendor class match ("Arch:0000B"): clients send decimal. */
const HEX_ARCH = /Arch:\d*[a-f]/i;

/** Tags whose only setters can never match a real client (hex architectures). */
function deadTags(m: Model): Set<string> {
  const dead = new Set<string>();
  const hex = (t: string) =>
    m.matches.filter((x) => x.tag === t).every((x) => x.code === 60 && HEX_ARCH.test(x.value?.bytes.toString('latin1') ?? '')) &&
    m.classes.filter((x) => x.tag === t).every((x) => x.kind === 'vendor' && HEX_ARCH.test(x.data.toString('latin1'))) &&
    !m.tagIfs.some((x) => x.sets.includes(t)) &&
    !m.hosts.some((h) => h.sets.includes(t));
  for (const x of [...m.matches, ...m.classes]) if (hex(x.tag)) dead.add(x.tag);
  return dead;
}
