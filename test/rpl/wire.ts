/** An in-memory Ethernet segment for RPL tests: ports deliver frames by destination MAC after a small delay on a fake clock. */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import type { SimClock } from './sim.js';

export class Port extends EventEmitter {
  constructor(
    readonly wire: Wire,
    readonly mac: string,
  ) {
    super();
  }
  send(frame: Buffer): void {
    this.wire.transmit(this, Buffer.from(frame));
  }
}

export class Wire {
  readonly ports: Port[] = [];
  /** Every frame sent, with the sender and the (fake) time. */
  readonly log: Array<{ from: string; at: number; frame: Buffer }> = [];
  constructor(
    private readonly clock: SimClock,
    private readonly latencyMs = 0.02,
  ) {}
  port(mac: string): Port {
    const p = new Port(this, mac);
    this.ports.push(p);
    return p;
  }
  transmit(from: Port, frame: Buffer): void {
    this.log.push({ from: from.mac, at: this.clock.now(), frame });
    const dst = [...frame.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
    const group = (frame[0]! & 1) === 1;
    for (const p of this.ports) {
      if (p === from || (!group && p.mac !== dst)) continue;
      this.clock.setTimer(this.latencyMs, () => p.emit('frame', frame));
    }
  }
  sentBy(mac: string): Buffer[] {
    return this.log.filter((e) => e.from === mac).map((e) => e.frame);
  }
}

/** A pino logger that keeps parsed lines in memory. */
export function memoryLogger(level = 'debug'): { log: Logger; lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = [];
  const log = pino({ level, base: undefined }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}
