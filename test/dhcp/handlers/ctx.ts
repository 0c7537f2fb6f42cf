import { replyTo, macToChaddr, type DhcpMessage } from '../../../src/codec/dhcp.js';
import type { DhcpConfig, SubnetConfig } from '../../../src/config/types.js';
import type { DhcpAnswer } from '../../../src/plan/types.js';
import type { ReplyContext } from '../../../src/dhcp/types.js';

export const subnet: SubnetConfig = {
  subnet: '10.77.0.0/24', network: '10.77.0.0', prefix: 24, netmask: '255.255.255.0',
  range: { start: '10.77.0.100', end: '10.77.0.199' }, router: '10.77.0.1', dns: ['10.77.0.1', '10.77.0.2'],
  domain: 'lan', lease: 3600, options: {},
};

export const dhcpConfig: DhcpConfig = {
  mode: 'authoritative', address: '0.0.0.0', port: 67, proxy_port: 4011, lease_file: '/nonexistent',
  subnets: [subnet], user_classes: [{ match: 'iPXE', ipxe: true }], arp_probe: false, commit_delay_ms: 0, decline_hold: 600,
};

export function request(options: Array<[number, Buffer]> = [], over: Partial<DhcpMessage> = {}): DhcpMessage {
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 42, secs: 0, flags: 0, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: macToChaddr('52:54:00:00:00:01'), sname: '', file: '',
    options: new Map<number, Buffer>([[53, Buffer.from([1])], ...options]), ...over,
  };
}

export function ctx(over: Partial<ReplyContext> = {}, answer: Partial<DhcpAnswer> = {}): ReplyContext {
  const req = over.req ?? request();
  return {
    req, reply: replyTo(req), requestType: 1, replyType: 2, mac: '52:54:00:00:00:01', key: 'hw:01:525400000001',
    facts: { mac: '52:54:00:00:00:01' },
    answer: { stage: 'plain', firmware: 'unknown', boot: false, ipxeNoPxeDhcp: false, reason: 'test', ...answer },
    subnet, config: dhcpConfig, serverId: '10.77.0.1', proxy: false, ...over,
  };
}
