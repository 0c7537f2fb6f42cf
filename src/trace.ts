/**
 * `lanboot trace MAC`: one machine's boot, in order, across services. Works on
 * the JSON log lines every service writes (each client event carries `mac`).
 */
import { printable } from './admin/tables.js';
import { tryNormalizeMac } from './net/address.js';

const SKIP = new Set(['level', 'time', 'svc', 'event', 'mac', 'msg', 'pid', 'hostname']);

export function traceLines(log: string, mac: string): string[] {
  const want = tryNormalizeMac(mac.trim()) ?? mac.toLowerCase();
  const out: { t: number; line: string }[] = [];
  for (const raw of log.split('\n')) {
    if (!raw.startsWith('{')) continue;
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (typeof ev.mac !== 'string' || ev.mac.toLowerCase() !== want) continue;
    const t = typeof ev.time === 'number' ? ev.time : Date.parse(String(ev.time));
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
