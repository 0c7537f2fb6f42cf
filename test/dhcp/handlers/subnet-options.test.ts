import { describe, expect, it } from 'vitest';
import { subnetOptions } from '../../../src/dhcp/handlers/subnet-options.js';
import { ctx } from './ctx.js';

describe('handler subnet-options', () => {
  it('netmask, router, dns, domain, broadcast, T1/T2', () => {
    const c = ctx({ yiaddr: '10.77.0.100', leaseSeconds: 3600 });
    subnetOptions.apply(c);
    const o = c.reply.options;
    expect(o.get(1)).toEqual(Buffer.from([255, 255, 255, 0]));
    expect(o.get(3)).toEqual(Buffer.from([10, 77, 0, 1]));
    expect(o.get(6)).toEqual(Buffer.from([10, 77, 0, 1, 10, 77, 0, 2]));
    expect(o.get(15)!.toString()).toBe('lan');
    expect(o.get(28)).toEqual(Buffer.from([10, 77, 0, 255]));
    expect(o.get(58)!.readUInt32BE(0)).toBe(1800);
    expect(o.get(59)!.readUInt32BE(0)).toBe(3150);
  });
  it('nothing in proxy replies (the real server owns the network options)', () => {
    const c = ctx({ proxy: true });
    subnetOptions.apply(c);
    expect(c.reply.options.size).toBe(0);
  });
});
