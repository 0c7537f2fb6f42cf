/**
 * PXE boot menus (PXE 2.1 §2.4, vendor option 43 for "PXEClient"), decided
 * the way dnsmasq decides them from pxe-service / pxe-prompt, so a migrated
 * setup shows its clients the same menu:
 *  - items for the client's architecture (exact option 93 value) and
 *    conditions, in config order: 43.9 menu, 43.8 boot servers (this server
 *    for items with a file, else the item's server), 43.6 discovery control
 *    3 (unicast to listed servers; 2 when an item's server is unknown, so the
 *    client may broadcast for it; 8 with no items: use the offered file);
 *  - 43.10 prompt: the configured one, else "PXE" with timeout 255 when there
 *    is a choice, 0 (boot the first at once) otherwise;
 *  - UEFI firmware (arch >= 6) with exactly one item that has a file gets no
 *    menu: its menu code is unreliable, so that item's file is the answer.
 */
import type { BootConfig, Mac, MenuItem } from '../config/types.js';

export interface Pxe43 {
  /** 43.6; absent on a boot server ACK. */
  control?: number;
  /** 43.8: [type, address] */
  servers: Array<[number, string]>;
  /** 43.9: [type, text] */
  items: Array<[number, string]>;
  /** 43.10 */
  prompt?: { timeout: number; text: string };
  /** 43.71 echoed on a boot server ACK. */
  bootItem?: number;
}

export interface MenuChoice {
  /** What to send in option 43; undefined = none. */
  pxe43?: Pxe43;
  /** The item a UEFI client gets without a menu, or the item a boot server request chose. */
  item?: ResolvedItem;
  /** UEFI with one item: no menu, the item is the answer (on the boot server port). */
  single?: boolean;
}

export interface ResolvedItem {
  type: number;
  text: string;
  file?: string;
  server?: string;
}

export interface MenuClient {
  mac: Mac;
  arch: number;
  ipxe: boolean;
  proxy: boolean;
}

/** Items in config order with their boot server types (32768 + n for items with a file, as dnsmasq numbers them). */
export function menuItems(boot: BootConfig): ResolvedItem[] & { source: MenuItem[] } {
  const out: ResolvedItem[] = [];
  let next = 0x8000;
  for (const m of boot.menu ?? []) {
    const type = m.type ?? (m.file ? next : 0);
    if (m.file && m.type === undefined) next++;
    out.push({ type, text: m.text, file: m.file, server: m.server });
  }
  return Object.assign(out, { source: boot.menu ?? [] });
}

/** Whether dnsmasq-style PXE menus are configured at all (pxe-service or pxe-prompt). */
export function menuConfigured(boot: BootConfig): boolean {
  return (boot.menu?.length ?? 0) > 0 || boot.prompt !== undefined;
}

function applies(m: MenuItem, c: MenuClient, macMatch: (mac: Mac, key: string) => boolean): boolean {
  if (!m.arch.includes(c.arch)) return false;
  if (m.ipxe !== undefined && m.ipxe !== c.ipxe) return false;
  if (m.proxy !== undefined && m.proxy !== c.proxy) return false;
  if (m.macs && !m.macs.some((k) => macMatch(c.mac, k))) return false;
  return true;
}

/** The menu part of an answer to a PXE client; `bootItem`: the 43.71 item a boot server request asks for. */
export function pxeMenu(
  boot: BootConfig,
  c: MenuClient,
  serverAddress: string | undefined,
  macMatch: (mac: Mac, key: string) => boolean,
  request: { bootItem?: number } = {},
): MenuChoice {
  const all = menuItems(boot);
  if (request.bootItem !== undefined) {
    // A boot server request names its item by type; the first item of that type answers.
    const item = all.find((i) => i.type === request.bootItem);
    if (!item || !item.file) return {};
    return { item, pxe43: { servers: [], items: [], prompt: boot.prompt, bootItem: request.bootItem } };
  }
  const mine = all.filter((_, i) => applies(all.source[i]!, c, macMatch));
  const withFile = mine.filter((i) => i.file);
  if (c.arch >= 6 && withFile.length === 1) return { item: withFile[0], single: true };
  let control = 3;
  const servers: Array<[number, string]> = [];
  for (const i of mine) {
    const addr = i.file ? serverAddress : i.server;
    if (addr) servers.push([i.type, addr]);
    else if (i.type !== 0) control = 2;
  }
  if (mine.length === 0) control = 8;
  const prompt = boot.prompt ?? { timeout: mine.length > 1 ? 255 : 0, text: 'PXE' };
  return { pxe43: { control, servers, items: mine.map((i) => [i.type, i.text]), prompt } };
}
