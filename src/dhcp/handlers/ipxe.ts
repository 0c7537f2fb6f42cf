import { DHCPNAK } from '../../codec/dhcp.js';
import { IPXE_SUB, OPT, encodeSuboptions } from '../../codec/dhcp-options.js';
import type { ReplyHandler } from '../types.js';

/**
 * Option 175 (iPXE encapsulated) with 176 no-pxedhcp = 1: iPXE then does not
 * wait for proxyDHCP offers (it would otherwise wait 2 s per boot).
 */
const NO_PXEDHCP = encodeSuboptions([[IPXE_SUB.NO_PXEDHCP, Buffer.from([1])]]);

export const ipxe: ReplyHandler = {
  name: 'ipxe',
  apply(ctx) {
    if (ctx.replyType === DHCPNAK || !ctx.answer.ipxeNoPxeDhcp || ctx.proxy) return;
    ctx.reply.options.set(OPT.IPXE, NO_PXEDHCP);
  },
};
