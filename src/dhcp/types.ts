/**
 * Shared vocabulary of the DHCP service and its transport: what the transport
 * hands the service (message bytes + Ingress), what it sends back (Reply +
 * Destination), and the context the reply handlers fill in.
 */
import type { DhcpMessage } from '../codec/dhcp.js';
import type { DhcpConfig, SubnetConfig } from '../config/types.js';
import type { ClientFacts, DhcpAnswer } from '../plan/types.js';

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

/** What one reply handler sees and fills. */
export interface ReplyContext {
  req: DhcpMessage;
  reply: DhcpMessage;
  /** Request type (option 53 of req). */
  requestType: number;
  /** Reply type: OFFER, ACK or NAK. */
  replyType: number;
  mac: string;
  /** Lease identity: client-id (61) else htype+chaddr. */
  key: string;
  facts: ClientFacts;
  answer: DhcpAnswer;
  subnet?: SubnetConfig;
  config: DhcpConfig;
  /** Our server identifier (option 54). */
  serverId: string;
  /** Address granted (OFFER/ACK of an address); absent for INFORM, proxy and NAK. */
  yiaddr?: string;
  /** Lease time in seconds when an address is granted. */
  leaseSeconds?: number;
  /** proxyDHCP reply (no address, boot info only). */
  proxy: boolean;
  /** Text for option 56 (NAK reason). */
  message?: string;
}

export interface ReplyHandler {
  /** Short name for logs and tests. */
  readonly name: string;
  apply(ctx: ReplyContext): void;
}
