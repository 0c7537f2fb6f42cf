import { DHCPNAK } from '../../codec/dhcp.js';
import { ip, str, u8, u16, u32 } from '../../codec/dhcp-options.js';
import { isIpv4 } from '../../net/address.js';
import type { SubnetConfig } from '../../config/types.js';
import type { ReplyHandler } from '../types.js';
import { perConfig } from './bytes.js';

/** RFC 2132 options whose value is an integer of a fixed width. */
const U8 = new Set([19, 20, 23, 27, 29, 30, 31, 34, 36, 39, 46]);
const U16 = new Set([13, 22, 26, 57]);

/**
 * A subnet's `options:` value as bytes: 0x-hex verbatim, IPv4 list, a number
 * (width by option code, u32 otherwise), else text.
 */
export function optionValue(code: number, v: string): Buffer {
  const t = v.trim();
  if (/^0x([0-9a-f]{2})*$/i.test(t)) return Buffer.from(t.slice(2), 'hex');
  const list = t.split(',').map((a) => a.trim());
  if (list.every(isIpv4)) return Buffer.concat(list.map(ip));
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return U8.has(code) ? u8(n) : U16.has(code) ? u16(n) : u32(n);
  }
  return str(v);
}

function encodedOptions(s: SubnetConfig): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  for (const [k, v] of Object.entries(s.options ?? {})) {
    const code = Number(k);
    if (Number.isInteger(code) && code >= 1 && code <= 254) out.push([code, optionValue(code, String(v))]);
  }
  return out;
}
const bySubnet = new WeakMap<SubnetConfig, Array<[number, Buffer]>>();

/** Operator-configured extra options; they override what earlier handlers set. */
export const extraOptions: ReplyHandler = {
  name: 'extra-options',
  apply(ctx) {
    if (ctx.replyType === DHCPNAK || !ctx.subnet || ctx.proxy) return;
    for (const [code, value] of perConfig(bySubnet, ctx.subnet, encodedOptions)) ctx.reply.options.set(code, value);
  },
};
