/**
 * The transfers running now, keyed by the client's address:port: one entry
 * per accepted request from the moment it is accepted (so a retransmitted
 * request is recognised while its file is still being opened), the status
 * views, and the one log line and counters when a transfer ends.
 */
import type { Logger } from 'pino';
import type { Telemetry } from '../telemetry.js';
import type { TransferView } from '../views.js';
import type { Outcome, TransferStats } from './transfer.js';

export interface TftpClient {
  address: string;
  port: number;
  mac?: string;
}

/** What the table needs of a running transfer (ReadTransfer, WriteTransfer). */
export interface Running {
  readonly startedAt: number;
  readonly size: number | undefined;
  strangers: number;
  malformed: number;
  stats(): TransferStats;
  finish(outcome: Outcome, detail?: string): void;
}

export interface TransferMeta {
  op: 'RRQ' | 'WRQ';
  file: string;
  client: TftpClient;
  blksize: number;
  windowsize: number;
  mode: string;
  /** Generated per client (the boot script), not read from the root. */
  generated: boolean;
}

export interface Entry {
  /** The client's IP address (for the per-address cap). */
  address: string;
  op: string;
  file: string;
  t?: Running;
  meta?: TransferMeta;
}

export const transferKey = (address: string, port: number): string => `${address}:${port}`;

export class TransferTable {
  private readonly entries = new Map<string, Entry>();
  /** Entries per client IP address. */
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly log: Logger,
    private readonly telemetry: Telemetry,
  ) {
    telemetry.gauge('lanboot_tftp_active_transfers', () => this.entries.size);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  /** Transfers (and requests being accepted) from this IP address. */
  countFrom(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  /** Reserve the key for a request being accepted. The key must be free (see replace). */
  reserve(key: string, address: string, op: string, file: string): Entry {
    const e: Entry = { address, op, file };
    this.entries.set(key, e);
    this.perAddress.set(address, this.countFrom(address) + 1);
    return e;
  }

  /** Forget `key` if it still holds `e`. */
  private forget(key: string, e: Entry): void {
    if (this.entries.get(key) !== e) return;
    this.entries.delete(key);
    const n = this.countFrom(e.address) - 1;
    if (n > 0) this.perAddress.set(e.address, n);
    else this.perAddress.delete(e.address);
  }

  /** A reservation that never became a transfer (refused, failed). */
  release(key: string, e: Entry): void {
    if (!e.t) this.forget(key, e);
  }

  /** Abort and forget the transfer at `key` (a new request from the same port replaces it). */
  replace(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.t?.finish('aborted', 'replaced by a new request');
    this.forget(key, e);
  }

  abortAll(): void {
    for (const e of this.entries.values()) e.t?.finish('aborted', 'server stopping');
    this.entries.clear();
    this.perAddress.clear();
  }

  views(): TransferView[] {
    const out: TransferView[] = [];
    for (const [key, e] of this.entries) {
      if (!e.t || !e.meta) continue;
      const st = e.t.stats();
      out.push({
        id: key,
        mac: e.meta.client.mac,
        peer: key,
        file: e.meta.file,
        bytes: st.bytes,
        size: e.t.size,
        blksize: e.meta.blksize,
        windowsize: e.meta.windowsize,
        started: e.t.startedAt,
        retransmits: st.retransmissions,
        direction: e.meta.op === 'RRQ' ? 'read' : 'write',
      });
    }
    return out;
  }

  /** A transfer ended: forget it, count it, and log its one line. */
  finished(key: string, t: Running, meta: TransferMeta, outcome: Outcome, stats: TransferStats, detail: string | undefined): void {
    const e = this.entries.get(key);
    if (e && e.t === t) this.forget(key, e);
    const tel = this.telemetry;
    tel.count('lanboot_tftp_transfers_total', { op: meta.op, outcome });
    if (stats.retransmissions) tel.count('lanboot_tftp_retransmissions_total', {}, stats.retransmissions);
    if (stats.bytes) tel.count(meta.op === 'RRQ' ? 'lanboot_tftp_sent_bytes_total' : 'lanboot_tftp_received_bytes_total', {}, stats.bytes);
    if (t.strangers) tel.count('lanboot_tftp_dropped_total', { reason: 'unknown-tid' }, t.strangers);
    if (t.malformed) tel.count('lanboot_tftp_dropped_total', { reason: 'malformed-in-transfer' }, t.malformed);
    const fields = {
      svc: 'tftp' as const,
      mac: meta.client.mac,
      client: meta.client.address,
      op: meta.op,
      file: meta.file,
      generated: meta.generated || undefined,
      mode: meta.mode === 'octet' ? undefined : meta.mode,
      outcome,
      bytes: stats.bytes,
      blksize: meta.blksize,
      windowsize: meta.windowsize,
      duration_ms: Math.round(stats.durationMs * 10) / 10,
      retransmissions: stats.retransmissions,
      rtt_ms: Math.round(stats.rttMs * 1000) / 1000,
      detail,
    };
    if (outcome === 'probe' || outcome === 'aborted') {
      // The UEFI size probe (OACK, then error 8) is routine: debug only.
      if (this.log.isLevelEnabled('debug')) this.log.debug({ event: 'tftp.probe', ...fields }, 'transfer ended early');
      return;
    }
    tel.bootEvent(this.log, { event: outcome === 'ok' ? 'tftp.done' : 'tftp.failed', ...fields });
  }
}
