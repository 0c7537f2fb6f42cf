import { DHCPNAK } from '../../codec/dhcp.js';
import { broadcastOf } from '../../net/address.js';
import { OPT, ip, ips, str } from '../../codec/dhcp-options.js';
import type { SubnetConfig } from '../../config/types.js';
import type { ReplyHandler } from '../types.js';
import { perConfig, u32Bytes } from './bytes.js';

/** 1, 3, 6, 15, 28 of one subnet, in that order. */
function networkOptions(s: SubnetConfig): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [[OPT.SUBNET_MASK, ip(s.netmask)]];
  if (s.router) out.push([OPT.ROUTER, ip(s.router)]);
  if (s.dns.length) out.push([OPT.DNS, ips(s.dns)]);
  if (s.domain) out.push([OPT.DOMAIN_NAME, str(s.domain)]);
  out.push([OPT.BROADCAST, ip(broadcastOf(s.network, s.prefix))]);
  return out;
}
const bySubnet = new WeakMap<SubnetConfig, Array<[number, Buffer]>>();

/**
 * Per-subnet network options: 1 netmask, 3 router, 6 DNS, 15 domain,
 * 28 broadcast, and with a lease 58/59 (T1 = 1/2, T2 = 7/8 of the lease,
 * RFC 2131 §4.4.5). proxyDHCP replies carry none (the real server does).
 */
export const subnetOptions: ReplyHandler = {
  name: 'subnet-options',
  apply(ctx) {
    const s = ctx.subnet;
    if (!s || ctx.proxy || ctx.replyType === DHCPNAK) return;
    const o = ctx.reply.options;
    for (const [code, value] of perConfig(bySubnet, s, networkOptions)) o.set(code, value);
    if (ctx.leaseSeconds !== undefined) {
      o.set(OPT.RENEWAL_TIME, u32Bytes(Math.floor(ctx.leaseSeconds / 2)));
      o.set(OPT.REBINDING_TIME, u32Bytes(Math.floor((ctx.leaseSeconds * 7) / 8)));
    }
  },
};
