import { DHCPNAK } from '../../codec/dhcp.js';
import { OPT, PXE_SUB, encodeSuboptions } from '../../codec/dhcp-options.js';
import type { Pxe43 } from '../../plan/types.js';
import type { ReplyHandler } from '../types.js';
import { textBytes } from './bytes.js';

/** `file` holds 128 bytes with its NUL; longer names (URLs) go in option 67 only. */
const FILE_FIELD_MAX = 127;

/** Option 43 with discovery control = n, and END (PXE wants it), made once per value. */
const discovery: Buffer[] = [];
const discoveryBytes = (n: number): Buffer => (discovery[n] ??= encodeSuboptions([[PXE_SUB.DISCOVERY_CONTROL, Buffer.from([n])]], true));

/**
 * Boot information from the plan's answer: the bootfile in BOTH the `file`
 * field and option 67, next-server in BOTH siaddr and option 66 (ROMs read
 * one or the other), option 60 echoed (PXEClient / HTTPClient, which UEFI
 * HTTP boot requires), and option 43 with the discovery control the plan
 * chose (answer.pxe43: menu, boot servers, prompt; else answer.discoveryControl).
 * The UUID (97) is echoed to PXE clients.
 */
export const pxe: ReplyHandler = {
  name: 'pxe',
  apply(ctx) {
    const a = ctx.answer;
    if (ctx.replyType === DHCPNAK || !a.boot) return;
    const o = ctx.reply.options;
    if (a.vendorClass) o.set(OPT.VENDOR_CLASS, textBytes(a.vendorClass));
    if (a.nextServer) ctx.reply.siaddr = a.nextServer;
    // Option 66 names the TFTP server: the configured server name (dnsmasq's dhcp-boot servername), else its address.
    const tftpServer = a.serverName ?? a.nextServer;
    if (tftpServer) o.set(OPT.TFTP_SERVER, textBytes(tftpServer));
    if (a.bootfile !== undefined) {
      const b = Buffer.from(a.bootfile, 'latin1');
      ctx.reply.file = b.length <= FILE_FIELD_MAX ? a.bootfile : '';
      if (b.length > 0) o.set(OPT.BOOTFILE, b);
    }
    if (a.serverName !== undefined) ctx.reply.sname = a.serverName;
    if (a.pxe43) o.set(OPT.VENDOR_SPECIFIC, encodePxe43(a.pxe43));
    else if (a.discoveryControl !== undefined) {
      o.set(OPT.VENDOR_SPECIFIC, discoveryBytes(a.discoveryControl & 0xff));
    }
    const uuid = ctx.req.options.get(OPT.UUID);
    if (a.vendorClass === 'PXEClient' && uuid) o.set(OPT.UUID, uuid); // the encoder copies it
  },
};

/**
 * PXE 2.1 §2.4 vendor options: 71 boot item, 6 discovery control, 10 prompt,
 * 8 boot servers, 9 menu (dnsmasq's order, so a migrated client sees the same bytes).
 */
export function encodePxe43(p: Pxe43): Buffer {
  const subs: Array<[number, Buffer]> = [];
  if (p.bootItem !== undefined) subs.push([PXE_SUB.BOOT_ITEM, Buffer.from([p.bootItem >> 8, p.bootItem & 255, 0, 0])]);
  if (p.control !== undefined) subs.push([PXE_SUB.DISCOVERY_CONTROL, Buffer.from([p.control & 0xff])]);
  if (p.prompt) subs.push([PXE_SUB.MENU_PROMPT, Buffer.concat([Buffer.from([p.prompt.timeout & 0xff]), Buffer.from(p.prompt.text, 'latin1')])]);
  if (p.servers.length) {
    subs.push([
      PXE_SUB.BOOT_SERVERS,
      Buffer.concat(p.servers.map(([type, ip]) => Buffer.from([type >> 8, type & 255, 1, ...ip.split('.').map(Number)]))),
    ]);
  }
  if (p.items.length) {
    subs.push([
      PXE_SUB.BOOT_MENU,
      Buffer.concat(p.items.map(([type, text]) => {
        const t = Buffer.from(text, 'latin1').subarray(0, 250);
        return Buffer.concat([Buffer.from([type >> 8, type & 255, t.length]), t]);
      })),
    ]);
  }
  return encodeSuboptions(subs, true);
}
