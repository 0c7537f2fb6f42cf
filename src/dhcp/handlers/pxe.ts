import { DHCPNAK } from '../../codec/dhcp.js';
import { OPT, PXE_SUB, encodeSuboptions } from '../../codec/dhcp-options.js';
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
 * chose (answer.discoveryControl). The UUID (97) is echoed to PXE clients.
 */
export const pxe: ReplyHandler = {
  name: 'pxe',
  apply(ctx) {
    const a = ctx.answer;
    if (ctx.replyType === DHCPNAK || !a.boot) return;
    const o = ctx.reply.options;
    if (a.vendorClass) o.set(OPT.VENDOR_CLASS, textBytes(a.vendorClass));
    if (a.nextServer) {
      ctx.reply.siaddr = a.nextServer;
      o.set(OPT.TFTP_SERVER, textBytes(a.nextServer));
    }
    if (a.bootfile !== undefined) {
      const b = Buffer.from(a.bootfile, 'latin1');
      ctx.reply.file = b.length <= FILE_FIELD_MAX ? a.bootfile : '';
      if (b.length > 0) o.set(OPT.BOOTFILE, b);
    }
    if (a.discoveryControl !== undefined) {
      o.set(OPT.VENDOR_SPECIFIC, discoveryBytes(a.discoveryControl & 0xff));
    }
    const uuid = ctx.req.options.get(OPT.UUID);
    if (a.vendorClass === 'PXEClient' && uuid) o.set(OPT.UUID, uuid); // the encoder copies it
  },
};

