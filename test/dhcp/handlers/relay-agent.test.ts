import { describe, expect, it } from 'vitest';
import { relayAgent } from '../../../src/dhcp/handlers/relay-agent.js';
import { ctx, request } from './ctx.js';

describe('handler relay-agent', () => {
  it('echoes option 82 verbatim, last', () => {
    const o82 = Buffer.from([1, 3, 0x65, 0x74, 0x68, 2, 2, 0xab, 0xcd]);
    const c = ctx({ req: request([[82, o82]], { giaddr: '10.77.0.254' }) });
    c.reply.options.set(1, Buffer.from([255, 255, 255, 0]));
    relayAgent.apply(c);
    expect([...c.reply.options.keys()].at(-1)).toBe(82);
    expect(c.reply.options.get(82)).toEqual(o82);
  });
  it('not for direct (unrelayed) requests', () => {
    const c = ctx({ req: request([[82, Buffer.from([1, 1, 1])]]) });
    relayAgent.apply(c);
    expect(c.reply.options.has(82)).toBe(false);
  });
});
