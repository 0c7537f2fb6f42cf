import { describe, expect, it } from 'vitest';
import { iscsi } from '../../../src/dhcp/handlers/iscsi.js';
import { ctx } from './ctx.js';

describe('handler iscsi', () => {
  it('17 root-path and 203 initiator IQN', () => {
    const c = ctx({}, { rootPath: 'iscsi:10.77.0.1::3260:1:iqn.2010-01.lan:pc01', initiatorIqn: 'iqn.2010-01.lan:initiator:pc01' });
    iscsi.apply(c);
    expect(c.reply.options.get(17)!.toString()).toBe('iscsi:10.77.0.1::3260:1:iqn.2010-01.lan:pc01');
    expect(c.reply.options.get(203)!.toString()).toBe('iqn.2010-01.lan:initiator:pc01');
  });
  it('no root-path in proxy replies', () => {
    const c = ctx({ proxy: true }, { rootPath: 'iscsi:x::3260:1:t' });
    iscsi.apply(c);
    expect(c.reply.options.has(17)).toBe(false);
  });
});
