import { describe, expect, it } from 'vitest';
import { lease } from '../../../src/dhcp/handlers/lease.js';
import { ctx, request } from './ctx.js';

describe('handler lease', () => {
  it('sets yiaddr and option 51', () => {
    const c = ctx({ yiaddr: '10.77.0.100', leaseSeconds: 3600 });
    lease.apply(c);
    expect(c.reply.yiaddr).toBe('10.77.0.100');
    expect(c.reply.options.get(51)).toEqual(Buffer.from([0, 0, 0x0e, 0x10]));
  });
  it('INFORM: no address, no lease time, ciaddr copied', () => {
    const c = ctx({ req: request([[53, Buffer.from([8])]], { ciaddr: '10.77.0.5' }), requestType: 8, replyType: 5 });
    lease.apply(c);
    expect(c.reply.yiaddr).toBe('0.0.0.0');
    expect(c.reply.ciaddr).toBe('10.77.0.5');
    expect(c.reply.options.has(51)).toBe(false);
  });
  it('NAK carries no address', () => {
    const c = ctx({ replyType: 6, yiaddr: '10.77.0.100', leaseSeconds: 60 });
    lease.apply(c);
    expect(c.reply.yiaddr).toBe('0.0.0.0');
    expect(c.reply.options.size).toBe(0);
  });
});
