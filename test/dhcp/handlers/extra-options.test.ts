import { describe, expect, it } from 'vitest';
import { extraOptions, optionValue } from '../../../src/dhcp/handlers/extra-options.js';
import { ctx, subnet } from './ctx.js';

describe('handler extra-options', () => {
  it('text, IPv4 list, numbers by width, hex', () => {
    expect(optionValue(42, '10.0.0.1, 10.0.0.2')).toEqual(Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]));
    expect(optionValue(26, '1400')).toEqual(Buffer.from([0x05, 0x78]));
    expect(optionValue(23, '64')).toEqual(Buffer.from([64]));
    expect(optionValue(2, '3600')).toEqual(Buffer.from([0, 0, 0x0e, 0x10]));
    expect(optionValue(224, '0xdeadbeef')).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    expect(optionValue(252, 'http://wpad/wpad.dat').toString()).toBe('http://wpad/wpad.dat');
  });
  it('applies the subnet options, overriding built-ins', () => {
    const c = ctx({ subnet: { ...subnet, options: { 42: '10.77.0.5', 3: '10.77.0.254' } } });
    c.reply.options.set(3, Buffer.from([10, 77, 0, 1]));
    extraOptions.apply(c);
    expect(c.reply.options.get(42)).toEqual(Buffer.from([10, 77, 0, 5]));
    expect(c.reply.options.get(3)).toEqual(Buffer.from([10, 77, 0, 254]));
  });
});
