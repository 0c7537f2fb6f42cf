/**
 * The thin I/O part of RPL: one packet socket per interface, bound to
 * ETH_P_802_2 (length-field frames), filtered in the kernel to the RPL SAPs,
 * and joined to the RPL group address so FIND frames arrive (§2.3, §2.4).
 */
import { llcSap } from '../net/bpf.js';
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
 * Open a link per interface and attach each to the responder. Returns the
 * sockets; close them (after responder.close()) on shutdown or reload of `interfaces`.
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

/**
 * serveRpl that survives an interface being deleted and re-created (USB NICs,
 * bridges rebuilt by netifd): on ENODEV the socket is dropped and reopened
 * every `retryMs` until the interface is back. ENETDOWN needs nothing: the
 * socket keeps receiving once the link is up again.
 */
export class RplLinks {
  private readonly sockets = new Map<string, PacketSocket>();
  private retry?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly responder: RplResponder,
    private readonly ifnames: string[],
    private readonly opts: RplLinkOptions & { retryMs?: number; onEvent?: (ifname: string, what: 'lost' | 'reopened') => void } = {},
  ) {
    const opened = serveRpl(responder, ifnames, opts);
    opened.forEach((s, i) => this.watch(ifnames[i]!, s));
  }

  private watch(ifname: string, s: PacketSocket): void {
    this.sockets.set(ifname, s);
    s.on('linkerror', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENODEV' || this.closed) return;
      this.responder.detach(s);
      s.close();
      this.sockets.delete(ifname);
      this.opts.onEvent?.(ifname, 'lost');
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      for (const ifname of this.ifnames) {
        if (this.sockets.has(ifname)) continue;
        try {
          const s = openRplLink(ifname, this.opts);
          this.responder.attach(s, ifname);
          this.watch(ifname, s);
          this.opts.onEvent?.(ifname, 'reopened');
        } catch {
          /* still gone; try again */
        }
      }
      if (this.sockets.size < this.ifnames.length) this.schedule();
    }, this.opts.retryMs ?? 5000);
    this.retry.unref();
  }

  get links(): PacketSocket[] {
    return [...this.sockets.values()];
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    for (const s of this.sockets.values()) {
      this.responder.detach(s);
      s.close();
    }
    this.sockets.clear();
  }
}
