import { describe, expect, it } from 'vitest';
import { serverId } from '../../../src/dhcp/handlers/server-id.js';
import { messageType } from '../../../src/dhcp/handlers/message-type.js';
import { clientId } from '../../../src/dhcp/handlers/client-id.js';
import { nakMessage } from '../../../src/dhcp/handlers/nak-message.js';
import { ctx, request } from './ctx.js';

describe('handlers server-id, message-type, client-id, nak-message', () => {
  it('53 and 54', () => {
    const c = ctx({ replyType: 5, serverId: '10.77.0.1' });
    messageType.apply(c);
    serverId.apply(c);
    expect(c.reply.options.get(53)).toEqual(Buffer.from([5]));
    expect(c.reply.options.get(54)).toEqual(Buffer.from([10, 77, 0, 1]));
  });
  it('61 echoed binary (RFC 6842)', () => {
    const id = Buffer.from([0xff, 0, 1, 2, 0, 0x80]);
    const c = ctx({ req: request([[61, id]]) });
    clientId.apply(c);
    expect(c.reply.options.get(61)).toEqual(id);
  });
  it('56 on NAK only', () => {
    const n = ctx({ replyType: 6, message: 'wrong network' });
    nakMessage.apply(n);
    expect(n.reply.options.get(56)!.toString()).toBe('wrong network');
    const a = ctx({ replyType: 5, message: 'x' });
    nakMessage.apply(a);
    expect(a.reply.options.has(56)).toBe(false);
  });
});
