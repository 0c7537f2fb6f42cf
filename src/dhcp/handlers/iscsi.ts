import { DHCPNAK } from '../../codec/dhcp.js';
import { OPT, str } from '../../codec/dhcp-options.js';
import type { ReplyHandler } from '../types.js';

/**
 * iSCSI handoff: 17 root-path (RFC 4173 SAN URI; with it the plan leaves the
 * filename empty so iPXE boots from the SAN) and 203 initiator IQN.
 */
export const iscsi: ReplyHandler = {
  name: 'iscsi',
  apply(ctx) {
    if (ctx.replyType === DHCPNAK) return;
    const a = ctx.answer;
    if (a.rootPath && !ctx.proxy) ctx.reply.options.set(OPT.ROOT_PATH, str(a.rootPath));
    if (a.initiatorIqn) ctx.reply.options.set(OPT.ISCSI_INITIATOR, str(a.initiatorIqn));
  },
};
