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

export class Telemetry extends EventEmitter {
  readonly counters = new Map<string, { name: string; labels: Labels; value: number }>();
  readonly gauges = new Map<string, () => number | Array<{ labels: Labels; value: number }>>();

  /** Count something: name in Prometheus style, e.g. 'lanboot_dhcp_dropped_total'. */
  count(name: string, labels: Labels = {}, by = 1): void {
    const key = name + JSON.stringify(labels);
    const c = this.counters.get(key);
    if (c) c.value += by;
    else this.counters.set(key, { name, labels, value: by });
  }

  /** Register a gauge read at scrape time (pool usage, active transfers...). */
  gauge(name: string, read: () => number | Array<{ labels: Labels; value: number }>): void {
    this.gauges.set(name, read);
  }

  /** Record one boot step and log it as one structured line. */
  bootEvent(log: Logger | undefined, ev: Omit<BootEvent, 'time'> & { time?: number }, msg?: string): void {
    const full = { time: Date.now(), ...ev } as BootEvent;
    if (log) {
      const { time: _t, svc: _s, ...fields } = full;
      log.info(fields, msg ?? full.event);
    }
    this.emit('event', full);
  }
}

/** The process-wide instance services use unless a test passes its own. */
export const telemetry = new Telemetry();
telemetry.setMaxListeners(100);
