/**
 * `log.format: text`: each JSON line pino wrote, rewritten as one line a
 * person reads, in dnsmasq's manner:
 *
 *   2026-05-01 10:00:01.123 DHCPOFFER(lan0) 10.77.0.101 52:54:00:12:34:56 pc01 bios undionly.kpxe
 *   2026-05-01 10:00:01.530 TFTP sent undionly.kpxe to 10.77.0.101 (52:54:00:12:34:56) 70.2 KiB in 0.2 s
 *
 * It works on the serialized line, after pino: the JSON path (journald, the
 * bench) is the same code whether or not this module exists, and text costs
 * one JSON.parse per line, which a terminal's reader never notices. Every
 * line that has a client MAC prints it (`lanboot trace` finds text lines by
 * it); every client-supplied string is escaped for the terminal.
 */
import { printable } from './admin/tables.js';

type Ev = Record<string, unknown>;

const SVC: Record<string, string> = { dhcp: 'DHCP', tftp: 'TFTP', http: 'HTTP', rpl: 'RPL', core: 'lanboot', admin: 'admin' };
/** pino's levels; info has no marker, as in dnsmasq. */
const MARKER: Record<number, string> = { 10: 'trace', 20: 'debug', 40: 'warning', 50: 'error', 60: 'fatal' };
/** Never printed as key=value by the generic form: the head, the time, or (stack) not one line. */
const NOT_FIELDS = new Set(['level', 'time', 'svc', 'event', 'msg', 'hint', 'stack', 'pid', 'hostname']);

/** A client-supplied or free-form value as one token: escaped, quoted when it has spaces. */
function word(v: unknown): string {
  const s = printable(typeof v === 'string' ? v : JSON.stringify(v) ?? String(v));
  return s === '' || /[\s"]/.test(s) ? `"${s.replace(/"/g, '\\"')}"` : s;
}
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** 71893 -> "70.2 KiB" */
export function size(bytes: unknown): string {
  const b = num(bytes) ?? 0;
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KiB`;
  if (b < 1024 ** 3) return `${(b / 1024 ** 2).toFixed(1)} MiB`;
  return `${(b / 1024 ** 3).toFixed(2)} GiB`;
}

/** 213.4 -> "0.2 s", 45 -> "45 ms" */
export function duration(ms: unknown): string {
  const m = num(ms) ?? 0;
  if (m < 100) return `${Math.round(m)} ms`;
  return `${(m / 1000).toFixed(m < 10_000 ? 1 : 0)} s`;
}

/** "to 10.77.0.101 (52:54:00:12:34:56)": the peer and, when known, its MAC. */
function peer(ev: Ev, addr: unknown = ev.client): string {
  const mac = str(ev.mac);
  const a = str(addr);
  if (a) return mac ? `${word(a)} (${word(mac)})` : word(a);
  return mac ? word(mac) : '?';
}

/** HTTP logs a file's path relative to its root; printed as the URL path the client asked for. */
const urlPath = (v: unknown): string => word(typeof v === 'string' && !v.startsWith('/') ? `/${v}` : (v ?? '?'));
const listenAddress = (ev: Ev): string => `${printable(String(ev.address ?? '?'))}:${num(ev.port) ?? '?'}`;
const join = (...parts: Array<string | false | undefined>): string => parts.filter((p) => p).join(' ');

/** firmware and bootfile as dnsmasq prints a tag and a file: "bios undionly.kpxe", "ipxe uefi64 http://...". */
function bootParts(ev: Ev): string {
  const stage = str(ev.stage);
  const fw = str(ev.firmware);
  return join(
    stage && stage !== 'pxe' && stage !== 'plain' && word(stage),
    fw && fw !== 'unknown' && word(fw),
    typeof ev.bootfile === 'string' && word(ev.bootfile),
  );
}

const dhcpMessage =
  (type: string) =>
  (ev: Ev): [string, string] => [
    `DHCP${type}${str(ev.iface) ? `(${printable(ev.iface as string)})` : ''}`,
    join(word(ev.ip ?? ev.requested ?? '0.0.0.0'), word(ev.mac), str(ev.hostname) && word(ev.hostname), bootParts(ev), type === 'NAK' && str(ev.reason) && printable(ev.reason as string)),
  ];

const proxyMessage =
  (what: string) =>
  (ev: Ev): [string, string] => [`PXE${str(ev.iface) ? `(${printable(ev.iface as string)})` : ''}`, join(word(ev.mac), `proxy ${what}`, bootParts(ev))];

function tftpDone(ev: Ev): [string, string] {
  const read = ev.op !== 'WRQ';
  return [
    'TFTP',
    join(
      read ? 'sent' : 'received',
      word(ev.file ?? '?'),
      read ? 'to' : 'from',
      peer(ev),
      size(ev.bytes),
      `in ${duration(ev.duration_ms)}${num(ev.retransmissions) ? `, ${ev.retransmissions} retransmissions` : ''}`,
      str(ev.mode) && `(${word(ev.mode)})`,
    ),
  ];
}

function tftpFailed(ev: Ev): [string, string] {
  const read = ev.op !== 'WRQ';
  return [
    'TFTP',
    join(
      read ? 'failed sending' : 'failed receiving',
      word(ev.file ?? '?'),
      read ? 'to' : 'from',
      `${peer(ev)}:`,
      word(ev.outcome ?? 'failed'),
      str(ev.detail) && `(${printable(ev.detail as string)})`,
      `after ${size(ev.bytes)} in ${duration(ev.duration_ms)}`,
    ),
  ];
}

function rplLoad(ev: Ev): [string, string] {
  const blocks = num(ev.blocks) ?? 0;
  const acked = num(ev.acked_blocks) ?? 0;
  return [
    'RPL',
    join(
      'load',
      word(ev.image ?? '?'),
      'to',
      word(ev.mac),
      str(ev.host) && `(${word(ev.host)})`,
      size(ev.bytes),
      `in ${duration(ev.duration_ms)},`,
      ev.confirmed ? 'confirmed' : `not confirmed (the client acknowledged ${acked} of ${blocks} blocks)`,
    ),
  ];
}

/** Events whose text is more than their message: the boot steps and the core lifecycle. */
const RENDER: Record<string, (ev: Ev) => [string, string]> = {
  'dhcp.offer': dhcpMessage('OFFER'),
  'dhcp.ack': dhcpMessage('ACK'),
  'dhcp.nak': dhcpMessage('NAK'),
  'dhcp.decline': dhcpMessage('DECLINE'),
  'dhcp.release': dhcpMessage('RELEASE'),
  'dhcp.inform': dhcpMessage('INFORM'),
  'dhcp.proxy_offer': proxyMessage('offer'),
  'dhcp.proxy_ack': proxyMessage('ack'),
  'tftp.done': tftpDone,
  'tftp.failed': tftpFailed,
  'tftp.probe': (ev) => ['TFTP', join(word(ev.file ?? '?'), 'to', peer(ev), `ended early: ${word(ev.outcome ?? '?')}`, `after ${size(ev.bytes)}`)],
  'tftp.refused': (ev) => ['TFTP', join('refused', str(ev.file) && word(ev.file), 'to', `${peer(ev)}:`, printable(String(ev.msg ?? ev.reason ?? '')))],
  'http.script': (ev) => ['HTTP', join('script', urlPath(ev.path), 'to', peer(ev))],
  'http.file': (ev) =>
    ['HTTP', join('sent', urlPath(ev.path), str(ev.range) && `range ${word(ev.range)}`, 'to', peer(ev), size(ev.bytes), `in ${duration(ev.ms)}`)],
  'http.range': (ev) => ['HTTP', join('sent', urlPath(ev.path), str(ev.range) && `range ${word(ev.range)}`, 'to', peer(ev), size(ev.bytes))],
  'http.aborted': (ev) => ['HTTP', join('aborted', urlPath(ev.path), 'to', peer(ev), `after ${size(ev.bytes)}`)],
  'http.request': (ev) =>
    ['HTTP', join(String(ev.status ?? '?'), word(ev.method ?? '?'), word(ev.path ?? '?'), 'from', peer(ev) + (str(ev.reason) ? `: ${printable(ev.reason as string)}` : ''))],
  'rpl.unknown': (ev) => ['RPL', join(`FIND from ${word(ev.mac)}`, str(ev.iface) && `on ${word(ev.iface)}`, 'not answered: unknown client (add it to hosts: to boot it)')],
  'rpl.found': (ev) =>
    ['RPL', join(`FOUND ${word(ev.mac)}`, str(ev.host) && `(${word(ev.host)})`, str(ev.iface) && `on ${word(ev.iface)}`, str(ev.image) && `image ${word(ev.image)}`)],
  'rpl.start': (ev) => ['RPL', join('load', word(ev.image ?? '?'), 'to', word(ev.mac), 'started:', `${size(ev.bytes)} in ${num(ev.blocks) ?? '?'} blocks`)],
  'rpl.load': rplLoad,
  'rpl.abort': (ev) => ['RPL', join('load', word(ev.image ?? '?'), 'to', word(ev.mac), `aborted (${word(ev.reason ?? '?')}) at block ${num(ev.at_block) ?? '?'} of ${num(ev.blocks) ?? '?'}`)],
  'dhcp.journal': (ev) =>
    ['DHCP', join('lease journal', word(ev.file ?? '?'), `loaded: ${num(ev.records) ?? 0} records`, !!num(ev.truncated_bytes) && `(a torn tail of ${size(ev.truncated_bytes)} cut off)`)],
  'tftp.listen': (ev) => ['TFTP', join(`listening on ${listenAddress(ev)}, root`, word(ev.root ?? '?'), str(ev.uploads) && `uploads to ${word(ev.uploads)}`)],
  'http.listen': (ev) => ['HTTP', join(`listening on ${listenAddress(ev)}, root`, word(ev.root ?? '?'))],
  'admin.listen': (ev) => ['admin', `status page on http://${listenAddress(ev)}/`],
  'core.start': (ev) => ['lanboot', join('started', str(ev.version) && word(ev.version), `(pid ${num(ev.pid) ?? '?'}, ${num(ev.hosts) ?? 0} hosts, config ${word(ev.config ?? '?')})`)],
  'core.reload': (ev) => ['lanboot', join(printable(String(ev.msg ?? 'config reloaded')), `(${num(ev.hosts) ?? 0} hosts)`)],
  'core.stop': (ev) => ['lanboot', join('stopping', str(ev.signal) && `(${word(ev.signal)})`)],
  'core.listening': (ev) => ['lanboot', printable(String(ev.msg ?? ''))],
  'log.dropped': (ev) => ['lanboot', `log writer fell behind: ${num(ev.lines) ?? '?'} lines dropped`],
};

/** Any other event: its message, then its fields (those the message does not already say) as key=value. */
function generic(ev: Ev, svc: string): string {
  let msg = typeof ev.msg === 'string' && ev.msg !== ev.event ? ev.msg : String(ev.event ?? '');
  // Messages written for JSON name their service ("rpl: ..."); the head says it already.
  if (msg.toLowerCase().startsWith(`${svc}: `)) msg = msg.slice(svc.length + 2);
  const parts = [printable(msg)];
  // The MAC first, so it is found at a glance, unless the message says it already.
  if (typeof ev.mac === 'string' && !msg.includes(ev.mac)) parts.push(`mac=${word(ev.mac)}`);
  for (const [k, v] of Object.entries(ev)) {
    if (NOT_FIELDS.has(k) || k === 'mac' || v === undefined || v === null) continue;
    if (typeof v === 'string' && v.length > 1 && msg.includes(v)) continue;
    parts.push(`${printable(k)}=${Array.isArray(v) ? v.map(word).join(',') : word(v)}`);
  }
  return parts.join(' ');
}

/** The event as one text line without time and newline: "DHCPACK(lan0) 10.77.0.101 52:54:...". */
export function formatEvent(ev: Ev): string {
  const svc = typeof ev.svc === 'string' ? ev.svc : 'core';
  const marker = MARKER[num(ev.level) ?? 30];
  const render = typeof ev.event === 'string' ? RENDER[ev.event] : undefined;
  let head: string;
  let body: string;
  if (render) [head, body] = render(ev);
  else [head, body] = [SVC[svc] ?? printable(svc), generic(ev, svc)];
  let line = marker ? `${head} ${marker}: ${body}` : `${head} ${body}`;
  const hint = str(ev.hint);
  if (hint && !line.toLowerCase().includes(hint.toLowerCase())) line += `; ${printable(hint)}`;
  return line;
}

let lastIso = '';
let lastLocal = '';
/** pino's ISO time (UTC) as local "YYYY-MM-DD HH:MM:SS.mmm", once per millisecond. */
function localTime(iso: unknown): string {
  if (typeof iso !== 'string') return '-';
  if (iso !== lastIso) {
    const d = new Date(iso);
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    lastIso = iso;
    lastLocal = Number.isNaN(d.getTime())
      ? printable(iso)
      : `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }
  return lastLocal;
}

/** One JSON log line (with its newline) as one text line (with its newline); a line that is not JSON passes as it is. */
export function textLine(json: string): string {
  let ev: Ev;
  try {
    ev = JSON.parse(json) as Ev;
  } catch {
    return json;
  }
  if (!ev || typeof ev !== 'object') return json;
  return `${localTime(ev.time)} ${formatEvent(ev)}\n`;
}

/** A pino destination that writes text lines to `out` (the stdout LineSink). */
export function textDestination(out: { write(line: string): unknown }): { write(line: string): void } {
  return { write: (line: string) => void out.write(textLine(line)) };
}

/** A text line's leading local time ("2026-05-01 10:00:01.123"), as ms since epoch; NaN when it has none. */
export function textLineTime(line: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3}) /.exec(line);
  if (!m) return NaN;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  return new Date(y, mo - 1, d, h, mi, s, ms).getTime();
}
