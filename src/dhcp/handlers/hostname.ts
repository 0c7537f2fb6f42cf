import { DHCPNAK } from '../../codec/dhcp.js';
import { OPT, str } from '../../codec/dhcp-options.js';
import type { ReplyHandler } from '../types.js';

/** Option 12 from the host entry; iPXE also derives its default initiator IQN from it. */
export const hostname: ReplyHandler = {
  name: 'hostname',
  apply(ctx) {
    if (ctx.replyType === DHCPNAK || !ctx.answer.hostname) return;
    ctx.reply.options.set(OPT.HOSTNAME, str(ctx.answer.hostname));
  },
};
