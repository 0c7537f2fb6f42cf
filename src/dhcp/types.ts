/**
 * Shared vocabulary of the DHCP service: the context the reply handlers fill
 * in. Ingress/Destination/Reply belong to the transport (src/io/dhcp-types.ts)
 * and are re-exported here.
 */
import type { DhcpMessage } from '../codec/dhcp.js';
import type { DhcpConfig, SubnetConfig } from '../config/types.js';
import type { ClientFacts, DhcpAnswer } from '../plan/types.js';

export type { Ingress, Destination, Reply } from '../io/dhcp-types.js';

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
