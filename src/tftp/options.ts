/**
 * RFC 2347 option negotiation for a read or write request. Pure: the result
 * lists only options the client asked for (an unrequested tsize in an OACK
 * breaks some EFI clients), in the client's order and spelling.
 */
import type { TftpOptions } from '../codec/tftp.js';

export const BLKSIZE_MIN = 8;
export const BLKSIZE_MAX = 65464; // RFC 2348
export const WINDOW_MAX = 65535; // RFC 7440

export interface NegotiateLimits {
  /** Largest blksize we grant (config, quirk and MTU caps already folded in). */
  blksizeMax: number;
  windowsizeMax: number;
  /** Options to ignore for this client (policy quirks), lower-case. */
  refuse: string[];
  /** File size for tsize on a read; undefined = do not report. */
  tsize?: number;
  /**
   * Cap on windowsize × blksize. A window is sent as one burst; past the
   * receiver's socket buffer (~208 KiB on Linux, counted in skb truesize)
   * its tail is dropped every time and the transfer crawls on timeouts.
   */
  windowBytesMax?: number;
  /** For a write: the largest upload we accept (tsize from the client is checked). */
  maxUpload?: number;
  /** Largest timeout option honoured, in seconds (default 255, RFC 2349's own limit). */
  timeoutMax?: number;
}

export interface Negotiated {
  blksize: number;
  windowsize: number;
  /** Seconds, when the client asked (RFC 2349). */
  timeout?: number;
  /** tsize announced by the client on a write. */
  clientTsize?: number;
  /** True when the client asked tsize (a read with tsize=0 may be a size probe). */
  tsizeAsked: boolean;
  /** What goes into the OACK; empty = no OACK. */
  oack: TftpOptions;
  /** Set when the request must be refused (error 8), e.g. an upload too big. */
  refuse?: string;
}

function intValue(v: string): number | undefined {
  if (!/^[0-9]{1,20}$/.test(v)) return undefined;
  return Number(v);
}

export function negotiate(op: 'RRQ' | 'WRQ', options: TftpOptions, lim: NegotiateLimits): Negotiated {
  const out: Negotiated = { blksize: 512, windowsize: 1, tsizeAsked: false, oack: [] };
  const seen = new Set<string>();
  for (const [rawName, rawValue] of options) {
    const name = rawName.toLowerCase();
    if (seen.has(name)) continue; // first occurrence wins
    seen.add(name);
    if (lim.refuse.includes(name)) continue;
    const v = intValue(rawValue);
    if (v === undefined) continue;
    switch (name) {
      case 'blksize': {
        if (v < BLKSIZE_MIN) break;
        const b = Math.max(BLKSIZE_MIN, Math.min(v, BLKSIZE_MAX, lim.blksizeMax));
        out.blksize = b;
        out.oack.push([rawName, String(b)]);
        break;
      }
      case 'windowsize': {
        if (v < 1) break;
        const w = Math.max(1, Math.min(v, WINDOW_MAX, lim.windowsizeMax));
        out.windowsize = w;
        out.oack.push([rawName, String(w)]);
        break;
      }
      case 'timeout': {
        // RFC 2349: 1..255 seconds, echoed unchanged or not at all: above our cap we leave it
        // out and keep our own timer (a client's 255 s would hold a slot for an hour).
        if (v < 1 || v > Math.min(255, lim.timeoutMax ?? 255)) break;
        out.timeout = v;
        out.oack.push([rawName, String(v)]);
        break;
      }
      case 'tsize': {
        out.tsizeAsked = true;
        if (op === 'RRQ') {
          // tsize 0 is left out: curl (7.88) rejects "tsize 0" in an OACK as invalid.
          if (lim.tsize === undefined || lim.tsize === 0) break;
          out.oack.push([rawName, String(lim.tsize)]);
        } else {
          out.clientTsize = v;
          if (lim.maxUpload !== undefined && v > lim.maxUpload) out.refuse = 'upload too large';
          out.oack.push([rawName, String(v)]);
        }
        break;
      }
      default:
        break;
    }
  }
  if (lim.windowBytesMax !== undefined && out.windowsize > 1) {
    const w = Math.max(1, Math.min(out.windowsize, Math.floor(lim.windowBytesMax / out.blksize)));
    if (w !== out.windowsize) {
      out.windowsize = w;
      // RFC 7440: the OACK may carry a smaller windowsize than asked.
      for (const o of out.oack) if (o[0].toLowerCase() === 'windowsize') o[1] = String(w);
    }
  }
  return out;
}
