import { DHCPNAK } from '../../codec/dhcp.js';
import { broadcastOf } from '../../net/address.js';
import { OPT, ip, ips, str, u32 } from '../../codec/dhcp-options.js';
import type { ReplyHandler } from '../types.js';

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
    o.set(OPT.SUBNET_MASK, ip(s.netmask));
    if (s.router) o.set(OPT.ROUTER, ip(s.router));
    if (s.dns.length) o.set(OPT.DNS, ips(s.dns));
    if (s.domain) o.set(OPT.DOMAIN_NAME, str(s.domain));
    o.set(OPT.BROADCAST, ip(broadcastOf(s.network, s.prefix)));
    if (ctx.leaseSeconds !== undefined) {
      o.set(OPT.RENEWAL_TIME, u32(Math.floor(ctx.leaseSeconds / 2)));
      o.set(OPT.REBINDING_TIME, u32(Math.floor((ctx.leaseSeconds * 7) / 8)));
    }
  },
};
