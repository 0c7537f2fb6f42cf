/**
 * The boot plan: the one place that decides what a machine boots.
 *
 * DHCP, TFTP, HTTP and RPL turn packets into ClientFacts and ask here; the
 * answer is a pure function of (config, facts). `lanboot check` prints it.
 */
import type { Config, HostConfig, Mac } from '../config/types.js';
import { expand, type TemplateValues } from '../config/template.js';
import { chainBootfile, firmwareOf } from './firmware.js';
import { detectIpxe } from './ipxe-detect.js';
import { ipxeScript } from './script.js';
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
}

const NOT_PXE = 'not a PXE client (no option 60 PXEClient / 93)';

export class BootPlan {
  /**
   * Whether any template of the config mentions {ip}: only then does a DHCP
   * answer depend on the address offered (the service asks again once it knows it).
   */
  readonly templatesUseIp: boolean;
  private readonly exact = new Map<Mac, HostConfig>();
  /** Prefix entries, longest first. */
  private readonly prefixes: HostConfig[];
  private readonly scriptRoutes: RegExp[];

  constructor(readonly config: Config) {
    this.templatesUseIp = JSON.stringify(config).includes('{ip}');
    for (const h of config.hosts) if (h.prefix_bits === 48) this.exact.set(h.mac, h);
    this.prefixes = config.hosts.filter((h) => h.prefix_bits < 48).sort((a, b) => b.prefix_bits - a.prefix_bits);
    this.scriptRoutes = [routeOf(config.boot.script), /^boot\/(?<mac>[0-9a-f]{2}(?:[:-][0-9a-f]{2}){5})\.ipxe$/i].filter(
      (r): r is RegExp => r !== undefined,
    );
  }

  /** The host entry for a MAC: an exact entry, else the longest matching prefix. */
  host(mac: Mac): HostConfig | undefined {
    const m = mac.toLowerCase();
    const h = this.exact.get(m);
    if (h || this.prefixes.length === 0) return h;
    const bits = macBits(m);
    return this.prefixes.find((p) => prefixMatch(bits, macBits(p.mac), p.prefix_bits));
  }

  /**
   * Template values for a client. `server` may be missing until a request tells us our address.
   * `only`: the one template the caller expands; {iqn} and {target} (two expansions) are
   * made only when it needs them.
   */
  values(mac: Mac, ctx: { serverAddress?: string; ip?: string } = {}, only?: string): TemplateValues {
    const h = this.host(mac);
    const server = ctx.serverAddress ?? this.config.server;
    const hex = mac.replaceAll(':', '');
    const v: TemplateValues = {
      mac,
      mac_hyphen: mac.replaceAll(':', '-'),
      mac_hex: hex,
      name: h && h.prefix_bits === 48 ? h.name : `host-${hex}`,
    };
    const ip = (h?.prefix_bits === 48 ? h.ip : undefined) ?? ctx.ip;
    if (ip) v.ip = ip;
    if (server) {
      v.server = server;
      const hp = this.config.http?.port ?? 80;
      v.http = hp === 80 ? server : `${server}:${hp}`;
      const tp = this.config.tftp?.port ?? 69;
      v.tftp = tp === 69 ? server : `${server}:${tp}`;
    }
    const iscsi = this.config.iscsi;
    if (iscsi && (only === undefined || only.includes('{iqn}') || only.includes('{target}'))) {
      v.iqn = expand(iscsi.initiator, v);
      v.target = expand(iscsi.target, v);
    }
    return v;
  }

  /** Everything derived from one host entry; all outputs use these so they cannot disagree. */
  derive(mac: Mac, ctx: { serverAddress?: string; ip?: string } = {}): DerivedHost | undefined {
    const host = this.host(mac);
    if (!host) return undefined;
    const v = this.values(mac, ctx);
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
    const fixedIp = host && host.prefix_bits === 48 ? host.ip : undefined;
    const firmware = firmwareOf(f.arch);
    const proxy = this.config.dhcp?.mode === 'proxy';
    const serverAddress = f.serverAddress ?? this.config.server;
    const base: DhcpAnswer = { stage: 'plain', firmware, host: undefined, fixedIp, boot: false, ipxeNoPxeDhcp: false, reason: '' };
    const d = host ? this.derive(mac, { serverAddress, ip: f.ip }) : undefined;
    if (d) {
      base.host = d;
      base.hostname = d.hostname;
      if (d.iscsi) base.initiatorIqn = d.iscsi.initiator;
    }

    // proxyDHCP (PXE spec §2.2.3) answers PXE ROMs and UEFI HTTP boot clients only; the real server serves the rest.
    const bootClient = f.vendorClass !== undefined && (f.vendorClass.startsWith('PXEClient') || f.vendorClass.startsWith('HTTPClient'));
    // `base` is ours: the plain answers below fill it in rather than copy it (one object per request).
    if (proxy && !bootClient) {
      base.notPxe = true;
      base.reason = 'proxy mode: not a PXE client (no option 60 PXEClient/HTTPClient)';
      return base;
    }
    if (!host && !this.config.boot.unknown_clients) {
      base.reason = 'unknown client; boot.unknown_clients is false';
      return base;
    }
    if (host && (host.boot === 'none' || host.boot === 'local')) {
      base.reason = `host ${host.name} has boot: ${host.boot}`;
      return base;
    }
    // Neither PXE ROM, UEFI HTTP boot nor iPXE (a plain DHCP client, the common case): no verdict strings to build.
    if (f.vendorClass === undefined && f.arch === undefined && f.userClasses === undefined && !f.ipxeOptions && host?.ipxe === undefined) {
      base.notPxe = true;
      base.reason = NOT_PXE;
      return base;
    }

    // iPXE first: an arch branch taken before it hands iPXE its own binary again.
    const verdict = detectIpxe(f, this.config.dhcp?.user_classes ?? [{ match: 'iPXE', ipxe: true }], host?.ipxe);
    const isPxe = f.vendorClass?.startsWith('PXEClient') ?? false;
    const isHttpClient = (f.vendorClass?.startsWith('HTTPClient') ?? false) || firmware === 'uefi-http';

    if (verdict.ipxe) {
      const v = this.values(mac, { serverAddress, ip: f.ip }, this.config.boot.script);
      let bootfile = this.expandOr(this.config.boot.script, v);
      let rootPath: string | undefined;
      const handoff = this.config.iscsi?.handoff ?? 'script';
      if (d?.iscsi && host?.boot === 'iscsi' && handoff === 'dhcp' && !proxy) {
        rootPath = d.iscsi.rootPath;
        bootfile = ''; // iPXE boots straight from option 17 when the filename is empty
      }
      return {
        ...base,
        stage: 'ipxe',
        boot: bootfile !== undefined,
        bootfile,
        nextServer: serverAddress,
        rootPath,
        vendorClass: isPxe ? 'PXEClient' : undefined,
        ipxeNoPxeDhcp: true,
        reason: `iPXE (${verdict.why}) -> ${rootPath ? `root-path ${rootPath}` : `script ${bootfile}`}`,
      };
    }

    if (isHttpClient) {
      const t = this.config.boot.http_boot ?? `http://{http}/${this.config.boot.uefi}`;
      const url = this.expandOr(t, this.values(mac, { serverAddress, ip: f.ip }, t));
      return {
        ...base,
        stage: 'uefi-http',
        boot: url !== undefined,
        bootfile: url,
        vendorClass: 'HTTPClient',
        reason: `UEFI HTTP boot (arch ${f.arch ?? '-'}, not iPXE: ${verdict.why}) -> ${url}`,
      };
    }

    if (isPxe || f.arch !== undefined) {
      const file = host?.bootfile ?? chainBootfile(firmware, this.config.boot);
      if (!file) return { ...base, stage: 'pxe', reason: `no chain bootfile configured for firmware ${firmware}` };
      return {
        ...base,
        stage: 'pxe',
        boot: true,
        bootfile: file,
        nextServer: serverAddress,
        vendorClass: 'PXEClient',
        // PXE ROMs (not iPXE, not HTTP boot) skip boot-server discovery; some ignore a proxy offer without it.
        discoveryControl: 8,
        reason: `PXE ROM, firmware ${firmware} (arch ${f.arch ?? 'none'}; not iPXE: ${verdict.why}) -> ${file} by TFTP`,
      };
    }
    base.notPxe = true;
    base.reason = NOT_PXE;
    return base;
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
      const byMac = q.mac_prefix !== undefined && f.mac !== undefined && f.mac.toLowerCase().startsWith(q.mac_prefix.toLowerCase());
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
    const m = mac.toLowerCase().replace(/-/g, ':');
    const serverAddress = client.serverAddress ?? this.config.server ?? '';
    const d = this.derive(m, { serverAddress, ip: client.address });
    const v = this.values(m, { serverAddress });
    return ipxeScript(d, {
      mac: m,
      firmware: client.firmware ?? 'unknown',
      handoff: this.config.iscsi?.handoff ?? 'script',
      proxy: this.config.dhcp?.mode === 'proxy',
      serverAddress,
      httpBase: this.config.http ? `http://${v.http ?? serverAddress}` : '',
    });
  }

  private macFromRoute(g: Record<string, string | undefined>): Mac | undefined {
    if (g.mac) return g.mac.toLowerCase().replace(/-/g, ':');
    if (g.mac_hyphen) return g.mac_hyphen.toLowerCase().replace(/-/g, ':');
    if (g.mac_hex) return g.mac_hex.toLowerCase().replace(/(..)(?!$)/g, '$1:');
    if (g.name) return this.config.hosts.find((h) => h.name === g.name && h.prefix_bits === 48)?.mac;
    if (g.ip) return this.config.hosts.find((h) => h.ip === g.ip && h.prefix_bits === 48)?.mac;
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

function macBits(mac: Mac): bigint {
  return BigInt('0x' + mac.replace(/[:-]/g, ''));
}

function prefixMatch(a: bigint, b: bigint, bits: number): boolean {
  if (bits === 0) return true;
  const shift = BigInt(48 - bits);
  return a >> shift === b >> shift;
}
