/**
 * RPL's transport: one packet socket per interface, bound to ETH_P_802_2
 * (length-field frames), filtered in the kernel to the RPL SAPs, and joined
 * to the RPL group address so FIND frames arrive (docs/rpl.md §2).
 */
import { llcSap } from '../net/bpf.js';
import { LinkKeeper } from '../net/links.js';
import { ETH_P_802_2, PacketSocket } from '../net/packet.js';
import { RPL_GROUP_MAC, SAP_LOAD, SAP_RPL } from '../codec/rpl.js';
import type { RplResponder } from './responder.js';

export interface RplLinkOptions {
  /** SAP we serve (rpld's -s); 0xF8 is always accepted for requests too. */
  sap?: number;
  /** Receive buffer bytes (default: the PacketSocket default). */
  rcvbuf?: number;
}

export function openRplLink(ifname: string, opts: RplLinkOptions = {}): PacketSocket {
  const saps = [...new Set([opts.sap ?? SAP_RPL, SAP_LOAD])];
  return PacketSocket.open({
    ifname,
    protocol: ETH_P_802_2,
    filter: llcSap(saps),
    multicast: [RPL_GROUP_MAC],
    rcvbuf: opts.rcvbuf,
  });
}

/**
 * Open a link per interface and attach each to the responder, without
 * reopening (tests and benchmarks). Close them after responder.close().
 */
export function serveRpl(responder: RplResponder, ifnames: string[], opts: RplLinkOptions = {}): PacketSocket[] {
  const out: PacketSocket[] = [];
  try {
    for (const ifname of ifnames) {
      const s = openRplLink(ifname, opts);
      out.push(s);
      responder.attach(s, ifname);
    }
  } catch (e) {
    for (const s of out) {
      responder.detach(s);
      s.close();
    }
    throw e;
  }
  return out;
}

/** One interface's socket, detached from the responder before it closes. */
interface AttachedLink {
  socket: PacketSocket;
  close(): void;
}

/**
 * A link per interface, attached to the responder and kept open across an
 * interface being deleted and created again (net/links.ts). Close it after
 * responder.close() on shutdown.
 */
export class RplLinks {
  private readonly keeper: LinkKeeper<AttachedLink>;

  constructor(
    responder: RplResponder,
    ifnames: string[],
    opts: RplLinkOptions & { retryMs?: number; onEvent?: (ifname: string, what: 'lost' | 'reopened') => void } = {},
  ) {
    this.keeper = new LinkKeeper<AttachedLink>({
      open: (ifname, linkError) => {
        const socket = openRplLink(ifname, opts);
        socket.on('linkerror', linkError);
        responder.attach(socket, ifname);
        return {
          socket,
          close: () => {
            responder.detach(socket);
            socket.close();
          },
        };
      },
      onLost: (ifname) => opts.onEvent?.(ifname, 'lost'),
      onReopened: (ifname) => opts.onEvent?.(ifname, 'reopened'),
      retryMs: opts.retryMs ?? 5000,
    });
    this.keeper.start(ifnames);
  }

  get links(): PacketSocket[] {
    return this.keeper.links().map((l) => l.socket);
  }

  close(): void {
    this.keeper.close();
  }
}
