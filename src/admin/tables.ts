/**
 * Plain-text output for the CLI: `lanboot leases`, `lanboot hosts`, and a
 * progress line for long operations that only draws on a terminal (so pipes
 * and logs get no control characters).
 */
import type { HostConfig } from '../config/types.js';
import type { LeaseView } from './views.js';
import { isWholeMac, parseIpv4 } from '../net/address.js';

/**
 * What a terminal would act on instead of print: C0 controls (ESC starts OSC
 * title and CSI sequences), DEL, C1 controls (U+009B is a one-character CSI)
 * and bidi overrides that reorder what the reader sees.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * Client-supplied text (DHCP hostname, TFTP file name, log fields) made safe
 * for a terminal: every control character is shown as an escape (\x1b, \u202e).
 * `lines`: multi-line text keeps its line breaks.
 */
export function printable(s: string, opts: { lines?: boolean } = {}): string {
  return s.replace(CONTROL, (c) => {
    if (opts.lines && c === '\n') return c;
    const n = c.charCodeAt(0);
    return NAMED[c] ?? (n < 0x80 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`);
  });
}

/** Escaped by JSON.stringify already: C0. What is left for printableJson. */
const CONTROL_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Pretty JSON for a terminal: JSON.stringify escapes C0 itself; DEL, C1 and bidi become \u escapes (still valid JSON). */
export function printableJson(v: unknown): string {
  return JSON.stringify(v, null, 2).replace(CONTROL_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface Column<T> {
  header: string;
  get: (row: T) => string | number | undefined;
  align?: 'left' | 'right';
  /** Longest cell before it is cut with an ellipsis. */
  max?: number;
}

export function table<T>(rows: readonly T[], cols: ReadonlyArray<Column<T>>): string {
  const cells = rows.map((r) =>
    cols.map((c) => {
      const v = c.get(r);
      let s = v === undefined || v === '' ? '-' : printable(String(v));
      if (c.max && s.length > c.max) s = s.slice(0, c.max - 1) + '…';
      return s;
    }),
  );
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (cols[i]!.align === 'right' ? v.padStart(widths[i]!) : i === vals.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(cols.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

/** "45s", "12m 5s", "11h 59m", "3d 2h". */
export function formatDuration(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** Relative expiry as people read it: "in 11h 59m", "expired 2m 3s ago", "never". */
export function formatExpiry(expires: number | undefined, now = Date.now()): string {
  if (expires === undefined) return 'never';
  const d = (expires - now) / 1000;
  return d >= 0 ? `in ${formatDuration(d)}` : `expired ${formatDuration(-d)} ago`;
}

function ipKey(ip: string | undefined): number {
  if (!ip) return Number.MAX_SAFE_INTEGER;
  const n = parseIpv4(ip);
  return n >= 0 ? n : Number.MAX_SAFE_INTEGER;
}

/** `lanboot leases`: one row per lease, by address. */
export function formatLeases(leases: readonly LeaseView[], now = Date.now()): string {
  if (leases.length === 0) return 'no leases\n';
  const rows = [...leases].sort((a, b) => ipKey(a.ip) - ipKey(b.ip));
  return table(rows, [
    { header: 'ADDRESS', get: (l) => l.ip },
    { header: 'MAC', get: (l) => l.mac },
    { header: 'NAME', get: (l) => l.hostname, max: 32 },
    { header: 'STATE', get: (l) => l.state },
    { header: 'EXPIRES', get: (l) => formatExpiry(l.expires, now) },
  ]);
}

export interface HostRow {
  mac: string;
  name?: string;
  ip?: string;
  boot: string;
  /** What the boot kind needs to be read: bootfile, chain URL, kernel... */
  detail?: string;
  /** Current lease of this MAC, if any. */
  lease?: LeaseView;
}

/** Host entries (resolved config) with the lease each one holds now. */
export function hostRows(hosts: readonly HostConfig[], leases: readonly LeaseView[] = [], defaultBoot = 'script'): HostRow[] {
  const byMac = new Map(leases.map((l) => [l.mac.toLowerCase(), l]));
  return hosts.map((h) => {
    const detail =
      h.bootfile ??
      (h.boot === 'chain' ? h.chain : h.boot === 'linux' ? h.kernel : h.boot === 'menu' ? h.menu?.join(',') : undefined) ??
      (h.rpl ? h.rpl.files.map((f) => f.path).join('+') : undefined);
    return {
      mac: isWholeMac(h.prefix_bits) ? h.mac : `${h.mac}/${h.prefix_bits}`,
      name: h.name,
      ip: h.ip,
      boot: h.boot ?? defaultBoot,
      detail,
      lease: byMac.get(h.mac.toLowerCase()),
    };
  });
}

/** `lanboot hosts`: one row per host entry, in config order. */
export function formatHosts(rows: readonly HostRow[], now = Date.now()): string {
  if (rows.length === 0) return 'no hosts configured\n';
  return table(rows, [
    { header: 'MAC', get: (r) => r.mac },
    { header: 'NAME', get: (r) => r.name, max: 32 },
    { header: 'ADDRESS', get: (r) => r.ip ?? (r.lease ? `(${r.lease.ip})` : undefined) },
    { header: 'BOOT', get: (r) => r.boot },
    { header: 'DETAIL', get: (r) => r.detail, max: 48 },
    { header: 'LEASE', get: (r) => (r.lease ? `${r.lease.state}, ${formatExpiry(r.lease.expires, now)}` : undefined) },
  ]);
}

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * One self-overwriting status line on stderr for long operations (import, a
 * big check). Draws only on a TTY and at most every `intervalMs`.
 */
export class Progress {
  private done = 0;
  private lastDraw = 0;
  private drawn = false;
  private readonly stream: ProgressStream;
  private readonly intervalMs: number;
  private readonly started = Date.now();

  constructor(
    private label: string,
    private total?: number,
    opts: { stream?: ProgressStream; intervalMs?: number } = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.intervalMs = opts.intervalMs ?? 100;
  }

  get enabled(): boolean {
    return !!this.stream.isTTY;
  }

  tick(n = 1, label?: string): void {
    this.update(this.done + n, undefined, label);
  }

  update(done: number, total?: number, label?: string): void {
    this.done = done;
    if (total !== undefined) this.total = total;
    if (label !== undefined) this.label = label;
    const now = Date.now();
    if (!this.enabled || now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    this.draw();
  }

  /** Clear the line; print `message` (on a TTY) as the final word. */
  finish(message?: string): void {
    if (!this.enabled) return;
    if (this.drawn) this.stream.write('\r\x1b[2K');
    if (message) this.stream.write(message + '\n');
    this.drawn = false;
  }

  private draw(): void {
    const width = Math.max(40, (this.stream.columns ?? 80) - 1);
    let s: string;
    if (this.total && this.total > 0) {
      const f = Math.min(1, this.done / this.total);
      const barW = 20;
      const fill = Math.round(f * barW);
      s = `${this.label} [${'#'.repeat(fill)}${'.'.repeat(barW - fill)}] ${this.done}/${this.total} ${Math.floor(f * 100)}%`;
    } else {
      s = `${this.label} ${this.done} (${formatDuration((Date.now() - this.started) / 1000)})`;
    }
    if (s.length > width) s = s.slice(0, width - 1) + '…';
    this.stream.write('\r\x1b[2K' + s);
    this.drawn = true;
  }
}
