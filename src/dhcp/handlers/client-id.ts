import { OPT } from '../../codec/dhcp-options.js';
import type { ReplyHandler } from '../types.js';

/** RFC 6842: echo the client identifier (61) so clients can match replies. */
export const clientId: ReplyHandler = {
  name: 'client-id',
  apply(ctx) {
    const id = ctx.req.options.get(OPT.CLIENT_ID);
    if (id) ctx.reply.options.set(OPT.CLIENT_ID, id); // the encoder copies it
  },
};
