import { describe, expect, it } from 'vitest';
import { hostname } from '../../../src/dhcp/handlers/hostname.js';
import { ctx } from './ctx.js';

describe('handler hostname', () => {
  it('option 12 from the plan', () => {
    const c = ctx({}, { hostname: 'pc01' });
    hostname.apply(c);
    expect(c.reply.options.get(12)!.toString()).toBe('pc01');
  });
  it('none for unknown clients', () => {
    const c = ctx();
    hostname.apply(c);
    expect(c.reply.options.has(12)).toBe(false);
  });
});
