import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

/**
 * What every service reports besides its log line: boot events per MAC (for
 * `lanboot trace`, the status page's timelines) and counters (for /metrics).
 * Services call `bootEvent()` once per client-visible step and `count()` for
 * every request, reply and drop. Consumers subscribe to 'event'.
 */
export interface BootEvent {
  /** ms since epoch */
  time: number;
  svc: 'dhcp' | 'tftp' | 'http' | 'rpl' | 'core';
  /** e.g. 'dhcp.offer', 'dhcp.ack', 'tftp.done', 'http.script', 'rpl.load' */
  event: string;
  mac?: string;
  /** Boot stage the event belongs to, e.g. 'pxe', 'ipxe', 'script', 'san', 'rpl'. */
  stage?: string;
  [key: string]: unknown;
}

type Labels = Record<string, string | number>;
type CounterEntry = { name: string; labels: Labels; value: number };
const NO_LABELS: Labels = Object.freeze({}) as Labels;

/**
 * A counter with fixed labels, for hot paths: the key is built once, not at
 * every increment. It appears in `counters` at its first increment.
 */
export class Counter {
  private entry?: CounterEntry;
  constructor(
    private readonly telemetry: Telemetry,
    readonly name: string,
    readonly labels: Labels,
  ) {}

  inc(by = 1): void {
    (this.entry ??= this.telemetry.entry(this.name, this.labels)).value += by;
  }
}

export class Telemetry extends EventEmitter {
  /** Keyed by name + JSON of the labels, e.g. 'lanboot_dhcp_dropped_total{"reason":"bootp"}'. */
  readonly counters = new Map<string, CounterEntry>();
  readonly gauges = new Map<string, () => number | Array<{ labels: Labels; value: number }>>();

  /** Count something: name in Prometheus style, e.g. 'lanboot_dhcp_dropped_total'. */
  count(name: string, labels: Labels = NO_LABELS, by = 1): void {
    this.entry(name, labels).value += by;
  }

  /** A counter handle with fixed labels (see Counter). */
  counter(name: string, labels: Labels = NO_LABELS): Counter {
    return new Counter(this, name, { ...labels });
  }

  /** @internal The entry for name + labels, created at 0. */
  entry(name: string, labels: Labels): CounterEntry {
    const key = name + JSON.stringify(labels);
    let c = this.counters.get(key);
    if (!c) this.counters.set(key, (c = { name, labels: labels === NO_LABELS ? {} : labels, value: 0 }));
    return c;
  }

  /** Register a gauge read at scrape time (pool usage, active transfers...). */
  gauge(name: string, read: () => number | Array<{ labels: Labels; value: number }>): void {
    this.gauges.set(name, read);
  }

  /**
   * Record one boot step and log it as one structured line (its fields
   * without svc, which the service's logger carries, and time, which pino
   * writes). Takes ownership of `ev`: it becomes the emitted event, with
   * `time` set, so no copy is made per event.
   */
  bootEvent(log: Logger | undefined, ev: Omit<BootEvent, 'time'> & { time?: number }, msg?: string): void {
    const full = ev as BootEvent;
    const time = full.time ?? Date.now();
    if (log) {
      const svc = full.svc;
      // pino leaves out undefined fields: hide svc and time for the line instead of copying the rest.
      (full as { svc?: string }).svc = undefined;
      (full as { time?: number }).time = undefined;
      log.info(full, msg ?? full.event);
      full.svc = svc;
    }
    full.time = time;
    this.emit('event', full);
  }
}

/** The process-wide instance services use unless a test passes its own. */
export const telemetry = new Telemetry();
telemetry.setMaxListeners(100);
