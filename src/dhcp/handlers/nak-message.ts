import { DHCPNAK } from '../../codec/dhcp.js';
import { OPT, str } from '../../codec/dhcp-options.js';
import type { ReplyHandler } from '../types.js';

/** Option 56 on a NAK says why (RFC 2131 table 3 allows it), handy in client logs. */
export const nakMessage: ReplyHandler = {
  name: 'nak-message',
  apply(ctx) {
    if (ctx.replyType === DHCPNAK && ctx.message) ctx.reply.options.set(OPT.MESSAGE, str(ctx.message));
  },
};
