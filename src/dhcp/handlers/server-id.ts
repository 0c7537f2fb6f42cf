import { OPT } from '../../codec/dhcp-options.js';
import type { ReplyHandler } from '../types.js';
import { ipBytes } from './bytes.js';

/** Option 54 (RFC 2131: MUST in OFFER, ACK and NAK); clients REQUEST with it to pick us. */
export const serverId: ReplyHandler = {
  name: 'server-id',
  apply(ctx) {
    ctx.reply.options.set(OPT.SERVER_ID, ipBytes(ctx.serverId));
  },
};
