/** Shared setup for in-memory RPL tests: a responder, a wire, fake clock, images and a plan. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RplResponder, type RplResponderConfig } from '../../src/rpl/responder.js';
import { FakeClock } from '../../src/rpl/clock.js';
import { Telemetry, type BootEvent } from '../../src/telemetry.js';
import type { HostConfig, RplImage } from '../../src/config/types.js';
import type { RplAnswer } from '../../src/plan/types.js';
import { Wire, memoryLogger } from './wire.js';
import { RplClientSim, type SimOptions } from './sim.js';

export const SERVER_MAC = '02:52:50:4c:00:01';

export function tempImages(files: Record<string, Buffer | number>): { root: string; data: Record<string, Buffer> } {
  const root = mkdtempSync(join(tmpdir(), 'lb-rpl-'));
  const data: Record<string, Buffer> = {};
  for (const [name, v] of Object.entries(files)) {
    const b = typeof v === 'number' ? randomBytes(v) : v;
    writeFileSync(join(root, name), b);
    data[name] = b;
  }
  return { root, data };
}

export function host(mac: string, name = 'h' + mac.replace(/:/g, '').slice(-4)): HostConfig {
  return { mac, prefix_bits: 48, name, boot: 'script', line: 1 };
}

export function answer(mac: string, image: RplImage, o: Partial<RplAnswer> = {}): RplAnswer {
  return { host: host(mac), image, frameSize: 1500, blockSize: 1440, pacingUs: 200, ackEvery: 0, ...o };
}

export class Bench {
  readonly clock = new FakeClock();
  readonly wire = new Wire(this.clock);
  readonly serverPort = this.wire.port(SERVER_MAC);
  readonly tm = new Telemetry();
  readonly events: BootEvent[] = [];
  readonly logs = memoryLogger();
  readonly answers = new Map<string, RplAnswer>();
  plan = { rpl: (mac: string) => this.answers.get(mac) };
  readonly responder: RplResponder;

  constructor(root: string, config: RplResponderConfig = {}) {
    this.tm.on('event', (e: BootEvent) => this.events.push(e));
    this.responder = new RplResponder(config, {
      plan: { rpl: (mac) => this.plan.rpl(mac) },
      root,
      log: this.logs.log,
      telemetry: this.tm,
      clock: this.clock,
    });
    this.responder.attach(this.serverPort, 'veth-test');
  }

  client(o: SimOptions): RplClientSim {
    return new RplClientSim(this.wire.port(o.mac), this.clock, o);
  }

  /** Advance fake time in steps until all sims finish (bounded). */
  run(sims: RplClientSim[], maxMs = 60_000, step = 5): void {
    for (let t = 0; t < maxMs; t += step) {
      this.clock.advance(step);
      if (sims.every((s) => s.result.ok || s.result.error)) return;
    }
  }

  counter(name: string, labels: Record<string, string | number> = {}): number {
    return this.tm.counters.get(name + JSON.stringify(labels))?.value ?? 0;
  }

  sent(): Buffer[] {
    return this.wire.sentBy(SERVER_MAC);
  }
}
