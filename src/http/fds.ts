/**
 * File descriptors as the HTTP service must budget them: every connection
 * holds a socket (and a file while it streams one), and when the process runs
 * out, accept() and every new TFTP transfer socket fail alike (EMFILE). The
 * HTTP connection cap is derived from RLIMIT_NOFILE minus what the UDP
 * services may need.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The soft RLIMIT_NOFILE of this process (Infinity when unlimited), or undefined where /proc is missing. */
export function nofileLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** Descriptors this process has open now, or undefined where /proc is missing. */
export function openFdCount(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/** Descriptors one HTTP connection may hold: its socket and the file it streams. */
export const FDS_PER_CONNECTION = 2;

/**
 * Connections HTTP may hold: at most `wanted`, and no more than the
 * descriptors left once `reserve` are kept for the other services. At least 1.
 */
export function connectionCap(wanted: number, limit: number | undefined, inUse: number, reserve: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return wanted;
  const room = Math.floor((limit - inUse - reserve) / FDS_PER_CONNECTION);
  return Math.max(1, Math.min(wanted, room));
}
