/**
 * How each corpus config is run in the test's namespaces. dnsmasq and lanboot
 * both read the same wrapper config: the adaptation lines below, then
 * `conf-file=` the corpus file, unedited. The adaptation is only what the
 * config's own environment supplies:
 *  - links: the server's interfaces, named as the config names them (an
 *    interface= line), with an address on the config's subnet (the host a
 *    project documents); each link gets its own client namespace;
 *  - extra: lines the including dnsmasq.conf holds for a fragment (its range).
 * lanboot gets nothing more: without interface= the import leaves
 * `interfaces` unset, and lanboot serves every interface with an address in a
 * subnet, as dnsmasq does. `proxy` marks links
 * whose clients also ask the boot server on port 4011, as PXE clients do
 * after a proxy offer.
 */
export interface Link {
  /** Server-side interface name. */
  server: string;
  /** Server address, CIDR. */
  address: string;
  /** The probing client's own address, CIDR (its source and 4011 ciaddr). */
  client: string;
  proxy?: boolean;
}

export interface CorpusEntry {
  file: string;
  links: Link[];
  extra?: string[];
}

const lan = (server: string, address: string, client: string, proxy = false): Link => ({ server, address, client, proxy });

export const CORPUS: CorpusEntry[] = [
  // Two NICs: the internal LTSP subnet leased, the existing LAN answered as proxy.
  { file: 'ltsp.conf', links: [lan('eth0', '192.168.67.1/24', '192.168.67.5/24'), lan('eth1', '192.168.0.2/24', '192.168.0.250/24', true)] },
  { file: 'netbootxyz-docker.conf', links: [lan('eth0', '192.168.1.1/24', '192.168.1.250/24')] },
  { file: 'matchbox-dhcp.conf', links: [lan('eth0', '192.168.1.100/24', '192.168.1.250/24')] },
  { file: 'matchbox-proxy.conf', links: [lan('eth0', '192.168.1.100/24', '192.168.1.250/24', true)] },
  { file: 'matchbox-proxy-uefi.conf', links: [lan('eth0', '192.168.1.100/24', '192.168.1.250/24', true)] },
  { file: 'matchbox-metal0.conf', links: [lan('metal0', '172.18.0.3/24', '172.18.0.250/24')] },
  { file: 'metal3-ironic.conf', links: [lan('provisioning', '172.22.0.2/24', '172.22.0.250/24')] },
  { file: 'bifrost.conf', links: [lan('ironic0', '192.168.2.1/24', '192.168.2.100/24')] },
  { file: 'rpi-netboot.conf', links: [lan('eth0', '10.42.0.211/24', '10.42.0.250/24', true)] },
  { file: 'archwiki-pxe.conf', links: [lan('eth0', '192.168.0.1/24', '192.168.0.250/24')] },
  { file: 'openqa-pxeboot.conf', links: [lan('eth0', '10.150.1.11/24', '10.150.1.250/24')], extra: ['dhcp-range=10.150.1.100,10.150.1.200'] },
  { file: 'forester-ipxe.conf', links: [lan('eth0', '192.168.122.1/24', '192.168.122.250/24')], extra: ['dhcp-range=192.168.122.2,192.168.122.254'] },
  { file: 'fog-proxy.conf', links: [lan('eth0', '192.168.1.10/24', '192.168.1.250/24', true)] },
  { file: 'cobbler.conf', links: [lan('eth0', '192.168.1.1/24', '192.168.1.250/24')] },
  { file: 'fuel-admin.conf', links: [lan('eth0', '10.110.1.66/26', '10.110.1.126/26')] },
];
