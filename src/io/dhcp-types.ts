/**
 * What the DHCP transport hands the service (message bytes + Ingress) and
 * what it sends back (Reply + Destination). Lives in io/ so the transport does
 * not import the service; src/dhcp/types.ts re-exports these.
 */
import type { DhcpMessage } from '../codec/dhcp.js';

/** Where a request came from, as the transport saw it. */
export interface Ingress {
  /** 'packet' = AF_PACKET socket on a configured interface; 'udp' = dgram socket. */
  via: 'packet' | 'udp';
  /** Interface the frame arrived on (packet sockets know it). */
  iface?: string;
  /** Our IPv4 address as the client sees it: the interface address, or the dgram socket's bound address. */
  localAddress?: string;
  /** Every IPv4 address of the ingress interface (subnet selection on multi-address interfaces). */
  addresses?: string[];
  /** Local UDP port the request was sent to: dhcp.port (67) or dhcp.proxy_port (4011). */
  localPort: number;
  srcAddress: string;
  srcPort: number;
  /** Destination was a broadcast address (tells REBINDING from RENEWING). */
  broadcast?: boolean;
}

/** Where the transport must send a reply (RFC 2131 §4.1). */
export type Destination =
  /** Relayed: to the relay agent's giaddr, server port. */
  | { kind: 'relay'; address: string; port: number }
  /** Client has an address (ciaddr), or proxyDHCP port 4011: plain UDP unicast. */
  | { kind: 'unicast'; address: string; port: number }
  /** Broadcast bit set, NAK, or no link-layer unicast possible: 255.255.255.255:68 on the ingress. */
  | { kind: 'broadcast'; port: number }
  /** No address yet, broadcast bit clear: IP unicast to yiaddr, Ethernet to chaddr (packet socket). */
  | { kind: 'link'; address: string; mac: string; port: number };

export interface Reply {
  message: DhcpMessage;
  to: Destination;
  /** Interface to send on, when known (packet socket). */
  iface?: string;
  /** Source address to use (our address on that interface). */
  from?: string;
  /** Largest message the client accepts (from its option 57, else 548). */
  maxLength: number;
  /** The client's parameter request list (option 55): reply option order, and what may not be dropped to fit. */
  requested?: number[];
}
