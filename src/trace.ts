/**
 * `lanboot trace MAC`: one machine's boot, in order, across services. Reads
 * both log formats, mixed if need be: JSON lines (each client event carries
 * `mac`, matched exactly) and text lines (log.format: text, each client event
 * prints its MAC; a line is kept when a MAC-shaped token in it is this one).
 */
import { printable } from './admin/tables.js';
import { tryNormalizeMac } from './net/address.js';
import { textLineTime } from './log-text.js';

const SKIP = new Set(['level', 'time', 'svc', 'event', 'mac', 'msg']);
/** A MAC as text lines print it; the lookarounds keep it from matching inside a longer hex run. */
const MAC_TOKEN = /(?<![0-9a-f:])[0-9a-f]{2}(?::[0-9a-f]{2}){5}(?![0-9a-f:])/gi;

export function traceLines(log: string, mac: string): string[] {
  const want = tryNormalizeMac(mac.trim()) ?? mac.toLowerCase();
  const out: { t: number; line: string }[] = [];
  // A text line without a time of its own (a journalctl prefix, say) sorts with the line before it.
  let lastT = 0;
  for (const raw of log.split('\n')) {
    // JSON from `journalctl -u lanboot` comes after a syslog-style prefix; `-o cat` has none.
    const at = raw.startsWith('{') ? 0 : raw.indexOf('{"level":');
    if (at < 0) {
      const t = textLineTime(raw);
      if (Number.isFinite(t)) lastT = t;
      if (raw.match(MAC_TOKEN)?.some((m) => m.toLowerCase() === want)) out.push({ t: lastT, line: printable(raw) });
      continue;
    }
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(at ? raw.slice(at) : raw) as Record<string, unknown>;
    } catch {
      continue;
    }
    const t = typeof ev.time === 'number' ? ev.time : Date.parse(String(ev.time));
    if (Number.isFinite(t)) lastT = t;
    if (typeof ev.mac !== 'string' || ev.mac.toLowerCase() !== want) continue;
    const when = Number.isFinite(t) ? new Date(t).toISOString().slice(11, 23) : '?';
    const details = Object.entries(ev)
      .filter(([k]) => !SKIP.has(k))
      .map(([k, v]) => `${printable(k)}=${printable(typeof v === 'string' ? v : JSON.stringify(v))}`)
      .join(' ');
    // Every field may come from a client (hostname, file name): escape before it reaches a terminal.
    const svc = printable(String(ev.svc ?? '-'));
    const event = printable(String(ev.event ?? ev.msg ?? ''));
    out.push({ t, line: `${when}  ${svc.padEnd(4)}  ${event.padEnd(16)} ${details}` });
  }
  // Stable sort by time: services log from one process, but a merged journal may interleave.
  return out.sort((a, b) => (a.t || 0) - (b.t || 0)).map((x) => x.line);
}
