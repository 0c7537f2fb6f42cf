import { describe, expect, it } from 'vitest';
import { ipxe } from '../../../src/dhcp/handlers/ipxe.js';
import { ctx } from './ctx.js';

describe('handler ipxe', () => {
  it('175.176 = 1 (no-pxedhcp) when the plan asks for it', () => {
    const c = ctx({}, { stage: 'ipxe', ipxeNoPxeDhcp: true });
    ipxe.apply(c);
    expect(c.reply.options.get(175)).toEqual(Buffer.from([176, 1, 1]));
  });
  it('absent otherwise', () => {
    const c = ctx({}, { ipxeNoPxeDhcp: false });
    ipxe.apply(c);
    expect(c.reply.options.has(175)).toBe(false);
  });
});
