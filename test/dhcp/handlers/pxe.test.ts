import { describe, expect, it } from 'vitest';
import { pxe } from '../../../src/dhcp/handlers/pxe.js';
import { decodeSuboptions } from '../../../src/codec/dhcp-options.js';
import { ctx, request } from './ctx.js';

describe('handler pxe', () => {
  it('bootfile in file AND 67, next-server in siaddr AND 66, 60 echoed, 43 discovery control 8, 97 echoed', () => {
    const uuid = Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 0x11)]);
    const c = ctx({ req: request([[97, uuid]]) }, { stage: 'pxe', boot: true, bootfile: 'undionly.kpxe', nextServer: '10.77.0.1', vendorClass: 'PXEClient', discoveryControl: 8 });
    pxe.apply(c);
    expect(c.reply.file).toBe('undionly.kpxe');
    expect(c.reply.options.get(67)!.toString()).toBe('undionly.kpxe');
    expect(c.reply.siaddr).toBe('10.77.0.1');
    expect(c.reply.options.get(66)!.toString()).toBe('10.77.0.1');
    expect(c.reply.options.get(60)!.toString()).toBe('PXEClient');
    expect(decodeSuboptions(c.reply.options.get(43)!, 43).get(6)).toEqual(Buffer.from([8]));
    expect(c.reply.options.get(97)).toEqual(uuid);
  });
  it('option 43 only encodes the plan\'s discoveryControl: none when the answer has none', () => {
    const c = ctx({}, { stage: 'pxe', boot: true, bootfile: 'undionly.kpxe', vendorClass: 'PXEClient' });
    pxe.apply(c);
    expect(c.reply.options.has(43)).toBe(false);
    const d = ctx({}, { stage: 'ipxe', boot: true, bootfile: 'x', discoveryControl: 3 });
    pxe.apply(d);
    expect(decodeSuboptions(d.reply.options.get(43)!, 43).get(6)).toEqual(Buffer.from([3]));
  });
  it('UEFI HTTP boot: HTTPClient echoed, URL as bootfile, no 43', () => {
    const c = ctx({}, { stage: 'uefi-http', boot: true, bootfile: 'http://10.77.0.1/snponly.efi', vendorClass: 'HTTPClient' });
    pxe.apply(c);
    expect(c.reply.options.get(60)!.toString()).toBe('HTTPClient');
    expect(c.reply.file).toBe('http://10.77.0.1/snponly.efi');
    expect(c.reply.options.has(43)).toBe(false);
  });
  it('a URL longer than the file field goes in 67 only; empty bootfile (SAN boot) sends no 67', () => {
    const url = 'http://10.77.0.1/' + 'x'.repeat(200);
    const c = ctx({}, { stage: 'ipxe', boot: true, bootfile: url });
    pxe.apply(c);
    expect(c.reply.file).toBe('');
    expect(c.reply.options.get(67)!.toString()).toBe(url);
    const s = ctx({}, { stage: 'ipxe', boot: true, bootfile: '' });
    pxe.apply(s);
    expect(s.reply.options.has(67)).toBe(false);
  });
  it('no boot answer, no boot options', () => {
    const c = ctx({}, { boot: false });
    pxe.apply(c);
    expect(c.reply.options.size).toBe(0);
    expect(c.reply.file).toBe('');
  });
});
