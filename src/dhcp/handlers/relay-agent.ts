import { OPT } from '../../codec/dhcp-options.js';
import type { ReplyHandler } from '../types.js';

/** RFC 3046: echo option 82 unchanged, as the last option, to the relay (it strips it). */
export const relayAgent: ReplyHandler = {
  name: 'relay-agent',
  apply(ctx) {
    const v = ctx.req.options.get(OPT.RELAY_AGENT);
    if (!v || ctx.req.giaddr === '0.0.0.0') return;
    ctx.reply.options.delete(OPT.RELAY_AGENT);
    ctx.reply.options.set(OPT.RELAY_AGENT, v); // the encoder copies it
  },
};
