/**
 * The boot plan: the one place that decides what a machine boots.
 *
 * DHCP, TFTP, HTTP and RPL turn packets into ClientFacts and ask here; the
 * answer is a pure function of (config, facts). `lanboot check` prints it.
 */
import { NO_BOOT, type BootSlots, type Config, type HostConfig, type Mac } from '../config/types.js';
import { expand, type TemplateValues } from '../config/template.js';
import { chainBootfile, firmwareOf } from './firmware.js';
import { detectIpxe } from './ipxe-detect.js';
import { ipxeScript } from './script.js';
import { isWholeMac, macPrefixMatch, macStartsWith, normalizeMac, tryNormalizeMac } from '../net/address.js';
import { menuConfigured, pxeMenu } from './pxe-menu.js';
import type {
  ClientFacts,
  DerivedHost,
  DhcpAnswer,
  Firmware,
  GeneratedFile,
  IscsiHandoff,
  RplAnswer,
  TftpPolicy,
} from './types.js';

export * from './types.js';
export { firmwareOf } from './firmware.js';
export { detectIpxe } from './ipxe-detect.js';

/** Who is asking for a generated file (TFTP or HTTP). */
export interface FileClient {
  mac?: Mac;
  address?: string;
  serverAddress?: string;
  firmware?: Firmware;
  /** Token for the script's reset URL, when this client may reset `mac` (issued by the wiring, which holds the key). */
  resetToken?: (mac: Mac) => string | undefined;
}

const NOT_PXE = 'not a PXE client (no option 60 PXEClient / 93)';
/** dhcp.user_classes when the config has none. */
const DEFAULT_USER_CLASSES = [{ match: 'iPXE', ipxe: true }];

/** An answer with every field present from the start: one object shape for every answer (the service and handlers read them per packet). */
function blankAnswer(firmware: Firmware, fixedIp: string | undefined): DhcpAnswer {
  return {
    stage: 'plain', firmware, host: undefined, fixedIp, boot: false, bootfile: undefined, nextServer: undefined, vendorClass: undefined,
    hostname: undefined, rootPath: undefined, initiatorIqn: undefined, discoveryControl: undefined, pxe43: undefined, serverName: undefined,
    redirect: undefined, ipxeNoPxeDhcp: false, notPxe: undefined, reason: '',
  };
}

/** A host's boot slots over boot:'s, and whether any of them needs {iqn} or {target} (two expansions). */
interface Slots {
  slots: BootSlots;
  iscsiVars: boolean;
}

export class BootPlan {
  /**
   * Whether any template of the config mentions {ip}: only then does a DHCP
   * answer depend on the address offered (the service asks again once it knows it).
   */
  readonly templatesUseIp: boolean;
  private readonly exact = new Map<Mac, HostConfig>();
  /** Prefix entries by length, longest first, each keyed by its masked MAC: a lookup costs one probe per length. */
  private readonly prefixes: { bits: number; byPrefix: Map<bigint, HostConfig> }[] = [];
  /** Exact entries by name and by fixed address (script routes, who holds an address). */
  private readonly byName = new Map<string, HostConfig>();
  private readonly byIp = new Map<string, HostConfig>();
  private readonly scriptRoutes: RegExp[];
  /** boot:'s slots, and each host's own over them: made once per config, not per request. */
  private readonly defaultSlots: Slots;
  private readonly hostSlots = new WeakMap<HostConfig, Slots>();

  constructor(readonly config: Config) {
    this.templatesUseIp = JSON.stringify(config).includes('{ip}');
    const lengths = new Map<number, Map<bigint, HostConfig>>();
    for (const h of config.hosts) {
      if (isWholeMac(h.prefix_bits)) {
        this.exact.set(h.mac, h);
        if (!this.byName.has(h.name)) this.byName.set(h.name, h);
        if (h.ip && !this.byIp.has(h.ip)) this.byIp.set(h.ip, h);
        continue;
      }
      let m = lengths.get(h.prefix_bits);
      if (!m) lengths.set(h.prefix_bits, (m = new Map()));
      const key = prefixOf(macBits(h.mac), h.prefix_bits);
      if (!m.has(key)) m.set(key, h); // the first entry in file order wins, as before
    }
    for (const [bits, byPrefix] of [...lengths].sort((a, b) => b[0] - a[0])) this.prefixes.push({ bits, byPrefix });
    this.defaultSlots = this.slotsOf(undefined);
    this.scriptRoutes = [routeOf(config.boot.script), /^boot\/(?<mac>[0-9a-f]{2}(?:[:-][0-9a-f]{2}){5})\.ipxe$/i].filter(
      (r): r is RegExp => r !== undefined,
    );
  }

  /** The host entry for a MAC: an exact entry, else the longest matching prefix. */
  host(mac: Mac): HostConfig | undefined {
    const m = tryNormalizeMac(mac);
    if (m === undefined) return undefined;
    const h = this.exact.get(m);
    if (h) return h;
    if (this.prefixes.length === 0) return undefined;
    const bits = macBits(m);
    for (const p of this.prefixes) {
      const hit = p.byPrefix.get(prefixOf(bits, p.bits));
      if (hit) return hit;
    }
    return undefined;
  }

  /** The exact host entry holding this fixed address. */
  hostByIp(ip: string): HostConfig | undefined {
    return this.byIp.get(ip);
  }

  /**
   * Template values for a client. `server` may be missing until a request tells us our address.
   * `only`: the template(s) the caller expands; {iqn} and {target} (two expansions) are
   * made only when they are needed.
   */
  values(mac: Mac, ctx: { serverAddress?: string; ip?: string } = {}, only?: string): TemplateValues {
    return this.valuesOf(mac, this.host(mac), ctx.serverAddress, ctx.ip, only === undefined || only.includes('{iqn}') || only.includes('{target}'));
  }

  private valuesOf(mac: Mac, h: HostConfig | undefined, serverAddress: string | undefined, ctxIp: string | undefined, iscsiVars: boolean): TemplateValues {
    const server = serverAddress ?? this.config.server;
    const hex = mac.replaceAll(':', '');
    const v: TemplateValues = {
      mac,
      mac_hyphen: mac.replaceAll(':', '-'),
      mac_hex: hex,
      name: h && isWholeMac(h.prefix_bits) ? h.name : `host-${hex}`,
    };
    const ip = (h && isWholeMac(h.prefix_bits) ? h.ip : undefined) ?? ctxIp;
    if (ip) v.ip = ip;
    if (server) {
      v.server = server;
      const hp = this.config.http?.port ?? 80;
      v.http = hp === 80 ? server : `${server}:${hp}`;
      const tp = this.config.tftp?.port ?? 69;
      v.tftp = tp === 69 ? server : `${server}:${tp}`;
    }
    const iscsi = this.config.iscsi;
    if (iscsi && iscsiVars) {
      v.iqn = expand(iscsi.initiator, v);
      v.target = expand(iscsi.target, v);
    }
    return v;
  }

  /** Everything derived from one host entry; all outputs use these so they cannot disagree. */
  derive(mac: Mac, ctx: { serverAddress?: string; ip?: string } = {}): DerivedHost | undefined {
    return this.deriveOf(mac, this.host(mac), ctx.serverAddress, ctx.ip);
  }

  private deriveOf(mac: Mac, host: HostConfig | undefined, serverAddress: string | undefined, ip: string | undefined): DerivedHost | undefined {
    if (!host) return undefined;
    const v = this.valuesOf(mac, host, serverAddress, ip, true);
    const d: DerivedHost = { host, mac, name: v.name!, hostname: v.name!, ip: v.ip };
    const wantsSan = host.boot === 'iscsi' || (host.boot === 'menu' && host.menu?.includes('iscsi'));
    if (wantsSan && this.config.iscsi && v.server !== undefined) d.iscsi = this.iscsi(v, host);
    return d;
  }

  private iscsi(v: TemplateValues, host: HostConfig): IscsiHandoff {
    const c = this.config.iscsi!;
    const portal = expand(c.portal, v);
    const uri = (target: string) => `iscsi:${portal}::${c.port}:${c.lun.toString(16)}:${target}`;
    return {
      portal,
      port: c.port,
      lun: c.lun,
      target: v.target!,
      initiator: v.iqn!,
      rootPath: uri(v.target!),
      extraRootPaths: (host.drives ?? []).map((t) => uri(expand(t, v))),
    };
  }

  /** The answer for one DHCP request. */
  dhcp(f: ClientFacts): DhcpAnswer {
    const mac = f.mac.toLowerCase();
    const host = this.host(mac);
    const boot = this.config.boot;
    const fixedIp = host && isWholeMac(host.prefix_bits) ? host.ip : undefined;
    const firmware = firmwareOf(f.arch);
    const proxy = f.proxy ?? this.config.dhcp?.mode === 'proxy';
    const serverAddress = f.serverAddress ?? this.config.server;
    const a = blankAnswer(firmware, fixedIp);
    const d = host ? this.deriveOf(mac, host, serverAddress, f.ip) : undefined;
    if (d) {
      a.host = d;
      a.hostname = d.hostname;
      if (d.iscsi) a.initiatorIqn = d.iscsi.initiator;
    }

    // proxyDHCP (docs/boot-flow.md §5) answers PXE ROMs and UEFI HTTP boot clients only; the real server serves the rest.
    const pxeVendor = f.vendorClass?.startsWith('PXEClient') ?? false;
    const httpVendor = f.vendorClass?.startsWith('HTTPClient') ?? false;
    if (proxy && !pxeVendor && !httpVendor) return notPxe(a, 'proxy mode: not a PXE client (no option 60 PXEClient/HTTPClient)');
    if (!host && !boot.unknown_clients) return answered(a, 'unknown client; boot.unknown_clients is false');
    if (host && (host.boot === 'none' || host.boot === 'local')) {
      return answered(a, `host ${host.name} has boot: ${host.boot}`);
    }
    // Neither PXE ROM, UEFI HTTP boot nor iPXE (a plain DHCP client, the common case): nothing to work out.
    if (f.vendorClass === undefined && f.arch === undefined && f.userClasses === undefined && !f.ipxeOptions && host?.ipxe === undefined) {
      return notPxe(a, NOT_PXE);
    }

    const { slots, iscsiVars } = host?.slots ? this.slotsOf(host) : this.defaultSlots;
    // Template values only for the branches that expand a template (a PXE ROM's chain file is a plain name).
    let v: TemplateValues | undefined;
    const values = () => (v ??= this.valuesOf(mac, host, serverAddress, f.ip, iscsiVars));
    const given = (t: string | undefined) => (t === undefined || t === NO_BOOT ? undefined : this.expandOr(t, values()));
    const nextServer = boot.next_server ?? serverAddress;

    // iPXE first: an arch branch taken before it hands iPXE its own binary again.
    const detected = detectIpxe(f, this.config.dhcp?.user_classes ?? DEFAULT_USER_CLASSES, host?.ipxe);
    const verdict =
      boot.detect_ipxe || host?.ipxe !== undefined ? detected : { ipxe: false, why: 'boot.detect_ipxe is false: iPXE is answered like its PXE ROM' };
    const isHttpClient = httpVendor || firmware === 'uefi-http';

    if (verdict.ipxe) {
      a.stage = 'ipxe';
      a.bootfile = given(slots.script);
      a.nextServer = nextServer;
      const handoff = this.config.iscsi?.handoff ?? 'script';
      if (a.bootfile !== undefined && d?.iscsi && host?.boot === 'iscsi' && handoff === 'dhcp' && !proxy) {
        a.rootPath = d.iscsi.rootPath;
        a.bootfile = ''; // iPXE boots straight from option 17 when the filename is empty
      }
      a.ipxeNoPxeDhcp = boot.ipxe_no_pxedhcp && a.bootfile !== undefined;
      a.reason = `iPXE (${verdict.why}) -> ${a.rootPath ? `root-path ${a.rootPath}` : a.bootfile !== undefined ? `script ${a.bootfile}` : 'no script (script: none)'}`;
    } else if (isHttpClient) {
      a.stage = 'uefi-http';
      // Default: the UEFI file over HTTP; none when UEFI gets none.
      a.bootfile = slots.http_boot === undefined ? (boot.uefi === NO_BOOT ? undefined : this.expandOr(`http://{http}/${boot.uefi}`, values())) : given(slots.http_boot);
      if (!proxy) a.nextServer = nextServer;
      a.reason = `UEFI HTTP boot (arch ${f.arch ?? '-'}, not iPXE: ${verdict.why}) -> ${a.bootfile ?? 'nothing (http_boot: none)'}`;
    } else if (pxeVendor || f.arch !== undefined) {
      a.stage = 'pxe';
      const file = host?.bootfile ?? chainBootfile(firmware, slots);
      a.bootfile = file === NO_BOOT ? undefined : file;
      a.nextServer = nextServer;
      a.reason = a.bootfile
        ? `PXE ROM, firmware ${firmware} (arch ${f.arch ?? 'none'}; not iPXE: ${verdict.why}) -> ${a.bootfile} by TFTP`
        : `no chain bootfile configured for firmware ${firmware}`;
    } else {
      return notPxe(a, NOT_PXE);
    }
    if (boot.server_name) a.serverName = boot.server_name;

    // PXE vendor options (60, 43) for clients that said PXEClient.
    if (pxeVendor && menuConfigured(boot)) this.menuAnswer(a, f, detected.ipxe, proxy, serverAddress);
    else if (pxeVendor && (proxy || boot.pxe_options)) {
      a.vendorClass = 'PXEClient';
      // PXE ROMs (not iPXE) skip boot-server discovery; some ignore a proxy offer without it.
      if (a.stage === 'pxe') a.discoveryControl = 8;
    }
    if (isHttpClient && boot.http_client) a.vendorClass = 'HTTPClient';

    const menuItems = (a.pxe43?.items.length ?? 0) > 0;
    // Something to boot, or a menu to choose from; in proxy mode nothing else is worth an offer.
    a.boot = a.bootfile !== undefined || menuItems || (a.redirect === true) || (!proxy && a.pxe43 !== undefined);
    if (!a.boot && !proxy && (a.vendorClass || a.discoveryControl !== undefined)) a.boot = true;
    return a;
  }

  /** The slots a host boots from (boot:'s, its own over them), made once per host entry. */
  private slotsOf(host: HostConfig | undefined): Slots {
    const cached = host && this.hostSlots.get(host);
    if (cached) return cached;
    const boot = this.config.boot;
    const slots: BootSlots = {
      bios: boot.bios, uefi: boot.uefi, uefi32: boot.uefi32, arm32: boot.arm32, arm64: boot.arm64,
      http_boot: boot.http_boot, script: boot.script, ...host?.slots,
    };
    const all = `${Object.values(slots).join(' ')} {http}`;
    const out = { slots, iscsiVars: all.includes('{iqn}') || all.includes('{target}') };
    if (host) this.hostSlots.set(host, out);
    return out;
  }

  /** dnsmasq's pxe-service / pxe-prompt behaviour (see ./pxe-menu.ts) on top of the slot answer. */
  private menuAnswer(a: DhcpAnswer, f: ClientFacts, ipxe: boolean, proxy: boolean, serverAddress: string | undefined): void {
    const boot = this.config.boot;
    const arch = f.arch ?? 0;
    a.vendorClass = 'PXEClient';
    const bootItem = f.bootServer ? f.bootItem : undefined;
    const m = pxeMenu(boot, { mac: f.mac.toLowerCase(), arch, ipxe, proxy }, serverAddress, (mac, key) => this.macMatches(mac, key), { bootItem });
    if (bootItem !== undefined) {
      // A boot server request for a menu item: its file, from its server.
      a.bootfile = m.item?.file;
      a.nextServer = m.item?.server ?? serverAddress;
      a.pxe43 = m.pxe43;
      a.reason = m.item ? `boot server request for item ${bootItem} -> ${a.bootfile}` : `boot server request for item ${bootItem}: no such item with a file`;
      return;
    }
    // UEFI (arch >= 6) is redirected to the boot server port in proxy mode.
    if (proxy && arch >= 6) a.nextServer = serverAddress;
    else if (proxy) a.nextServer = boot.next_server;
    if (m.single) {
      if (!proxy) {
        if (boot.prompt) a.pxe43 = { servers: [], items: [], prompt: boot.prompt };
        return;
      }
      if (f.bootServer) {
        a.bootfile = m.item!.file;
        a.nextServer = m.item!.server ?? serverAddress;
        a.serverName = a.nextServer;
      } else {
        a.bootfile = undefined;
        a.redirect = true;
      }
      a.reason = `UEFI with one menu item "${m.item!.text}": ${f.bootServer ? `-> ${a.bootfile}` : 'asked on the boot server port'}`;
      return;
    }
    if (a.bootfile !== undefined && proxy && boot.next_server) a.nextServer = boot.next_server;
    // UEFI gets no menu on port 67 in proxy mode (its menu code is unreliable).
    if (!(proxy && arch >= 6 && !f.bootServer)) a.pxe43 = m.pxe43;
  }

  /** Whether a MAC matches a host-style key (MAC or MAC/bits). */
  private macMatches(mac: Mac, key: string): boolean {
    const [m, bits] = key.split('/') as [string, string | undefined];
    const prefix = tryNormalizeMac(m);
    return prefix !== undefined && macPrefixMatch(mac, prefix, bits === undefined ? 48 : Number(bits));
  }

  private expandOr(t: string, v: TemplateValues): string | undefined {
    try {
      return expand(t, v);
    } catch {
      return undefined;
    }
  }

  /** The iPXE script URL a client would be given (for check and scripts). */
  scriptUrl(mac: Mac, serverAddress?: string): string | undefined {
    return this.expandOr(this.config.boot.script, this.values(mac.toLowerCase(), { serverAddress }));
  }

  /** TFTP quirks for a client: every matching rule applies; the smallest cap wins. */
  tftpPolicy(f: Partial<ClientFacts>): TftpPolicy {
    const out: TftpPolicy = { refuseOptions: [] };
    for (const q of this.config.tftp?.quirks ?? []) {
      const byMac = q.mac_prefix !== undefined && f.mac !== undefined && macStartsWith(f.mac, q.mac_prefix);
      const byArch = q.arch !== undefined && f.arch !== undefined && q.arch.includes(f.arch);
      const byVc = q.vendor_class !== undefined && f.vendorClass !== undefined && f.vendorClass.startsWith(q.vendor_class);
      if (!(byMac || byArch || byVc)) continue;
      if (q.blksize_max !== undefined) out.blksizeMax = Math.min(out.blksizeMax ?? Infinity, q.blksize_max);
      for (const o of q.refuse_options ?? []) if (!out.refuseOptions.includes(o)) out.refuseOptions.push(o.toLowerCase());
    }
    return out;
  }

  /** What an RPL ROM with this MAC is sent, or undefined (unknown clients get no FOUND). */
  rpl(mac: Mac): RplAnswer | undefined {
    const c = this.config.rpl;
    const host = this.host(mac);
    if (!c || !host) return undefined;
    const image = host.rpl ?? (host.boot === 'rpl' ? c.image : undefined);
    if (!image) return undefined;
    const blockSize = image.block_size ?? c.block_size;
    return {
      host,
      image,
      frameSize: image.frame_size ?? c.frame_size,
      blockSize: blockSize - (blockSize % 16),
      pacingUs: image.pacing_us ?? c.pacing_us,
      ackEvery: c.ack_every,
    };
  }

  /**
   * A file generated per client, by path (TFTP or HTTP): the boot script.
   * Undefined means "not generated; serve from disk".
   */
  file(path: string, client: FileClient = {}): GeneratedFile | undefined {
    const p = path.replace(/^\/+/, '');
    for (const re of this.scriptRoutes) {
      const m = re.exec(p);
      if (!m) continue;
      const mac = this.macFromRoute(m.groups ?? {}) ?? client.mac;
      if (!mac) return undefined;
      return { contentType: 'text/plain; charset=utf-8', body: this.script(mac, client), mac };
    }
    return undefined;
  }

  /** The iPXE script for a MAC. */
  script(mac: Mac, client: FileClient = {}): string {
    const m = tryNormalizeMac(mac) ?? mac.toLowerCase();
    const serverAddress = client.serverAddress ?? this.config.server ?? '';
    const d = this.derive(m, { serverAddress, ip: client.address });
    const v = this.values(m, { serverAddress, ip: client.address });
    const resetToken = d?.host.reset?.length ? client.resetToken?.(m) : undefined;
    return ipxeScript(d, {
      resetToken,
      mac: m,
      firmware: client.firmware ?? 'unknown',
      handoff: this.config.iscsi?.handoff ?? 'script',
      proxy: this.config.dhcp?.mode === 'proxy',
      serverAddress,
      values: v,
      httpBase: this.config.http ? `http://${v.http ?? serverAddress}` : '',
    });
  }

  private macFromRoute(g: Record<string, string | undefined>): Mac | undefined {
    const spelled = g.mac ?? g.mac_hyphen ?? g.mac_hex;
    if (spelled) return normalizeMac(spelled);
    if (g.name) return this.byName.get(g.name)?.mac;
    if (g.ip) return this.byIp.get(g.ip)?.mac;
    return undefined;
  }
}

const ROUTE_VARS: Record<string, string> = {
  mac: '(?<mac>[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})',
  mac_hyphen: '(?<mac_hyphen>[0-9a-fA-F]{2}(?:-[0-9a-fA-F]{2}){5})',
  mac_hex: '(?<mac_hex>[0-9a-fA-F]{12})',
  name: '(?<name>[A-Za-z0-9-]+)',
  ip: '(?<ip>\\d+\\.\\d+\\.\\d+\\.\\d+)',
};

/** The path part of the script URL template as a route, e.g. boot/{mac}.ipxe. */
function routeOf(template: string): RegExp | undefined {
  const m = /^[a-z]+:\/\/[^/]*\/(.*)$/i.exec(template);
  if (!m) return undefined;
  const parts = m[1]!.split(/(\{[a-z_]+\})/);
  let src = '';
  for (const part of parts) {
    const v = /^\{([a-z_]+)\}$/.exec(part);
    if (v) {
      const r = ROUTE_VARS[v[1]!];
      if (!r) return undefined; // a path with {server} etc. cannot be routed back
      src += r;
    } else src += part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${src}$`);
}

/** An answer that boots nothing, for `reason`. */
function answered(a: DhcpAnswer, reason: string): DhcpAnswer {
  a.reason = reason;
  return a;
}

/** Not a PXE/HTTP boot client (proxyDHCP stays silent). */
function notPxe(a: DhcpAnswer, reason: string): DhcpAnswer {
  a.notPxe = true;
  a.reason = reason;
  return a;
}

function macBits(mac: Mac): bigint {
  return BigInt('0x' + mac.replace(/[:-]/g, ''));
}

/** The top `bits` bits of a 48-bit MAC. */
function prefixOf(mac: bigint, bits: number): bigint {
  return mac >> BigInt(48 - bits);
}
