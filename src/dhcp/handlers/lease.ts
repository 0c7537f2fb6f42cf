import { DHCPNAK } from '../../codec/dhcp.js';
import { OPT } from '../../codec/dhcp-options.js';
import type { ReplyHandler } from '../types.js';
import { u32Bytes } from './bytes.js';

/**
 * The address and its lease time (51). INFORM replies carry neither
 * (RFC 2131 §3.4); an INFORM reply copies ciaddr instead.
 */
export const lease: ReplyHandler = {
  name: 'lease',
  apply(ctx) {
    if (ctx.replyType === DHCPNAK) return;
    if (ctx.yiaddr) {
      ctx.reply.yiaddr = ctx.yiaddr;
      if (ctx.leaseSeconds !== undefined) ctx.reply.options.set(OPT.LEASE_TIME, u32Bytes(ctx.leaseSeconds));
    }
    if (ctx.requestType === 8 /* INFORM */) ctx.reply.ciaddr = ctx.req.ciaddr;
  },
};
