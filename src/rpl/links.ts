/**
 * The thin I/O part of RPL: one packet socket per interface, bound to
 * ETH_P_802_2 (length-field frames), filtered in the kernel to the RPL SAPs,
 * and joined to the RPL group address so FIND frames arrive (§2.3, §2.4).
 */
import { llcSap } from '../io/bpf.js';
import { ETH_P_802_2, PacketSocket } from '../io/packet.js';
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
