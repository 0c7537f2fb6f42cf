import { OPT } from '../../codec/dhcp-options.js';
import type { ReplyHandler } from '../types.js';
import { u8Bytes } from './bytes.js';

/** Option 53 first: some PXE ROMs expect it at the start of the options. */
export const messageType: ReplyHandler = {
  name: 'message-type',
  apply(ctx) {
    ctx.reply.options.set(OPT.MESSAGE_TYPE, u8Bytes(ctx.replyType));
  },
};
