/**
 * The reply is built by this ordered chain. Adding an option = adding a
 * handler file and a line here. Order matters only where noted: 53 first,
 * operator extras after the built-ins (they override), 82 last (RFC 3046).
 */
import type { ReplyHandler } from '../types.js';
import { messageType } from './message-type.js';
import { serverId } from './server-id.js';
import { lease } from './lease.js';
import { subnetOptions } from './subnet-options.js';
import { hostname } from './hostname.js';
import { pxe } from './pxe.js';
import { ipxe } from './ipxe.js';
import { iscsi } from './iscsi.js';
import { clientId } from './client-id.js';
import { nakMessage } from './nak-message.js';
import { extraOptions } from './extra-options.js';
import { relayAgent } from './relay-agent.js';

export const defaultHandlers: readonly ReplyHandler[] = [
  messageType,
  serverId,
  lease,
  subnetOptions,
  hostname,
  pxe,
  ipxe,
  iscsi,
  clientId,
  nakMessage,
  extraOptions,
  relayAgent,
];

export { messageType, serverId, lease, subnetOptions, hostname, pxe, ipxe, iscsi, clientId, nakMessage, extraOptions, relayAgent };
