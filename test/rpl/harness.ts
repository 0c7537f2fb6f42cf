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

// ---------------------------------------------------------------- raw frames for hand-driven clients
function mk(dst: string, src: string, sap: number, cmd: number, vectors: Buffer): Buffer {
  const m = (s: string) => Buffer.from(s.split(':').map((x) => parseInt(x, 16)));
  const pdu = Buffer.alloc(4 + vectors.length);
  pdu.writeUInt16BE(pdu.length, 0);
  pdu.writeUInt16BE(cmd, 2);
  vectors.copy(pdu, 4);
  const h = Buffer.alloc(17);
  m(dst).copy(h, 0);
  m(src).copy(h, 6);
  h.writeUInt16BE(3 + pdu.length, 12);
  h[14] = sap;
  h[15] = sap;
  h[16] = 3;
  const f = Buffer.concat([h, pdu]);
  return f.length < 60 ? Buffer.concat([f, Buffer.alloc(60 - f.length)]) : f;
}
export function findFrame(src: string): Buffer {
  return mk('03:00:02:00:00:00', src, 0xfc, 1, Buffer.from('0008400300000001', 'hex'));
}
export function sfrFrame(src: string, dst: string, seq: number): Buffer {
  const v = Buffer.from('0008401100000000', 'hex');
  v.writeUInt32BE(seq, 4);
  return mk(dst, src, 0xfc, 0x10, v);
}
export function alertFrame(src: string, dst: string): Buffer {
  return mk(dst, src, 0xfc, 0x30, Buffer.from('0008400100000000', 'hex'));
}

