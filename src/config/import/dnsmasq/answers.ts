/**
 * Stage 5: what dnsmasq answers one kind of client, as rfc2131.c decides it.
 *  - dhcp-boot: find_boot() takes the last matching line that has tags,
 *    else the last line without tags; without one, option 67 (and 66) from
 *    dhcp-option, tagged options before untagged ones, the last line winning.
 *  - PXE handling (60 echo, option 43, proxy answers) runs only when a
 *    pxe-service or pxe-prompt exists, for clients whose option 60 starts
 *    with a PXE vendor class ("PXEClient") and that send option 93.
 *  - UEFI (arch >= 6) with exactly one pxe-service for its arch gets no menu:
 *    that service's file, from the boot server port in proxy mode.
 *  - proxyDHCP answers only such PXE clients; it never sends dhcp-option lines.
 */
import type { Boot, Host, Model, Opt, Range, Service } from './model.js';
import { clientTags, matchNetid } from './tags.js';
import type { Kind } from './clients.js';

export interface Answer {
  /** No reply at all (proxy: not a PXE client; dhcp-ignore). */
  silent?: string;
  /** What the client fetches: dhcp-boot's file, else option 67. */
  file?: string;
  /** Where file came from. */
  fileFrom?: Boot | Opt;
  /** find_boot()'s line, also where the answer sends no file (UEFI's one-entry case). */
  boot?: Boot;
  /** Server name (dhcp-boot's second field, else option 66). */
  serverName?: string;
  /** Next server given explicitly (dhcp-boot's third field). */
  nextServer?: string;
  /** Option 60 dnsmasq sends (PXEClient echo, or a configured value). */
  vendorClass?: string;
  /** dnsmasq's PXE code handles this client (menus, 60 echo, proxy answers). */
  pxe: boolean;
  /** pxe-service entries offered to this client, in order. */
  services: Service[];
  /** UEFI with exactly one entry: no menu, this entry's file. */
  single?: Service;
  /** Configured options dnsmasq sends this client (tag-matched, asked for or forced), by code. */
  options: Map<number, Opt>;
  tags: Set<string>;
}

export interface Where {
  range?: Range;
  proxy: boolean;
  host?: Host;
  iface?: string;
}

/** find_boot(): tagged lines first (the last matching one), then untagged ones (the last). */
export function findBoot(boots: Boot[], tags: Set<string>): Boot | undefined {
  for (let i = boots.length - 1; i >= 0; i--) if (matchNetid(boots[i]!.conds, tags, false)) return boots[i];
  for (let i = boots.length - 1; i >= 0; i--) if (matchNetid(boots[i]!.conds, tags, true)) return boots[i];
  return undefined;
}

/** option_filter(): per option code, a matching tagged line beats an untagged one; the last line wins. */
export function selectOptions(opts: Opt[], tags: Set<string>, withoutRange: Set<string>): Map<number, Opt> {
  const out = new Map<number, Opt>();
  const plain = opts.filter((o) => o.vendor === undefined && o.encap === undefined);
  const codes = new Set(plain.map((o) => o.code));
  for (const code of codes) {
    const mine = plain.filter((o) => o.code === code);
    const pick = (xs: Opt[]) => xs[xs.length - 1];
    const chosen =
      pick(mine.filter((o) => o.conds.length && matchNetid(o.conds, withoutRange, false))) ??
      pick(mine.filter((o) => o.conds.length && matchNetid(o.conds, tags, false))) ??
      pick(mine.filter((o) => !o.conds.length));
    if (chosen) out.set(code, chosen);
  }
  return out;
}

const text = (o: Opt | undefined) => (o && o.values.length ? o.values.join(',') : undefined);

export function answer(m: Model, kind: Kind, mac: string, where: Where): Answer {
  const req = kind.request(mac);
  const ctx = { iface: where.iface, range: where.range, host: where.host };
  const tags = clientTags(m, req, ctx);
  const noRange = clientTags(m, req, { ...ctx, range: undefined });
  const a: Answer = { pxe: false, services: [], options: new Map(), tags };
  if (where.host?.ignore) return { ...a, silent: 'dhcp-host ...,ignore' };
  if (m.ignores.some((i) => matchNetid(i.conds, tags, false))) return { ...a, silent: 'dhcp-ignore' };

  const vendor = req.options.get(60)?.toString('latin1');
  a.pxe = m.enablePxe && kind.arch !== undefined && vendor !== undefined && m.pxeVendors.some((p) => vendor.startsWith(p));
  if (where.proxy && !a.pxe) return { ...a, silent: 'proxy: dnsmasq answers PXE clients with option 93 only, and only with pxe-service/pxe-prompt' };

  if (a.pxe) {
    a.vendorClass = m.pxeVendors.find((p) => vendor!.startsWith(p));
    a.services = m.services.filter((s) => s.csa === kind.arch && matchNetid(s.conds, tags, true));
    const withFile = a.services.filter((s) => s.basename);
    if (kind.arch! >= 6 && withFile.length === 1) a.single = withFile[0];
  }

  const boot = findBoot(m.boots, tags);
  a.boot = boot;
  if (boot) {
    a.file = boot.file;
    a.fileFrom = boot;
    a.serverName = boot.sname;
    a.nextServer = boot.server ?? boot.tftpName;
  }
  if (where.proxy) {
    // The proxy path uses dhcp-boot only, and none of it for UEFI's one-entry case.
    if (a.single) {
      a.file = undefined;
      a.fileFrom = undefined;
    }
    return a;
  }
  a.options = new Map(
    [...selectOptions(m.options, tags, noRange)].filter(([code, o]) => o.force || kind.requested.includes(code)),
  );
  const all = selectOptions(m.options, tags, noRange);
  if (!boot) {
    const o67 = all.get(67);
    if (o67 && text(o67) !== undefined) {
      a.file = text(o67);
      a.fileFrom = o67;
    }
  }
  const o60 = a.options.get(60);
  if (!a.pxe && o60) a.vendorClass = text(o60);
  return a;
}
