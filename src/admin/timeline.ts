/**
 * Per-MAC boot timelines built from telemetry boot events: which stage each
 * machine reached and where it stopped. Memory is bounded: the last
 * `maxEvents` events per MAC and the `maxMacs` most recently active MACs.
 */
import type { BootEvent } from '../telemetry.js';

export type StageKey = 'rpl' | 'pxe' | 'tftp' | 'ipxe' | 'script' | 'os';

/** Display order. An RPL machine skips pxe/tftp: its ROM loads iPXE over LLC. */
export const STAGES: ReadonlyArray<{ key: StageKey; label: string }> = [
  { key: 'rpl', label: 'RPL load' },
  { key: 'pxe', label: 'DHCP (PXE ROM)' },
  { key: 'tftp', label: 'TFTP bootfile' },
  { key: 'ipxe', label: 'DHCP (iPXE)' },
  { key: 'script', label: 'HTTP script' },
  { key: 'os', label: 'SAN / kernel' },
];
const ORDER = new Map(STAGES.map((s, i) => [s.key, i]));

const FAILURE = /(error|fail|nak|timeout|timed_out|abort|refused|denied|not_?found|decline)/i;

/** Which display stage a boot event belongs to; undefined = not a boot step we draw. */
export function stageOf(ev: BootEvent): StageKey | undefined {
  const st = typeof ev.stage === 'string' ? ev.stage : undefined;
  if (st === 'san' || st === 'kernel' || st === 'os' || st === 'iscsi') return 'os';
  switch (ev.svc) {
    case 'rpl':
      return 'rpl';
    case 'tftp':
      return st === 'script' ? 'script' : 'tftp';
    case 'dhcp':
      if (st === 'ipxe') return 'ipxe';
      if (st === 'plain') return undefined;
      return 'pxe';
    case 'http':
      return st === 'script' || ev.event === 'http.script' ? 'script' : 'os';
    default:
      return undefined;
  }
}

export interface StageMark {
  first: number;
  last: number;
  count: number;
  /** Last event name seen in this stage. */
  event: string;
}

export interface MachineView {
  mac: string;
  name?: string;
  ip?: string;
  firstSeen: number;
  lastSeen: number;
  /** ms since the last event (at the time the view was made). */
  idleMs: number;
  /** Boot attempts seen (a new one starts when the machine is back at RPL/PXE DHCP after a later stage). */
  attempts: number;
  /** Attempts started in the last 5 minutes; >= 3 smells like a boot loop. */
  recentAttempts: number;
  path: 'pxe' | 'rpl';
  /** Stages reached in the current attempt. */
  stages: Partial<Record<StageKey, StageMark>>;
  /** Furthest stage of the current attempt. */
  current?: StageKey;
  /** Set when the last thing that happened was a failure. */
  error?: { stage?: StageKey; event: string; time: number; detail?: string };
  /** The OS itself asked for an address (plain DHCP after a netboot): booted. */
  osUp?: number;
  /** Last events, oldest first. */
  events: BootEvent[];
}

interface Machine extends Omit<MachineView, 'idleMs' | 'recentAttempts'> {
  attemptTimes: number[];
}

export interface TimelineOptions {
  maxMacs?: number;
  maxEvents?: number;
}

export class TimelineStore {
  private readonly machines = new Map<string, Machine>();
  readonly maxMacs: number;
  readonly maxEvents: number;

  constructor(opts: TimelineOptions = {}) {
    this.maxMacs = opts.maxMacs ?? 512;
    this.maxEvents = opts.maxEvents ?? 50;
  }

  get size(): number {
    return this.machines.size;
  }

  /** Record one event; returns the machine's updated view, or undefined if the event is not about a boot. */
  add(ev: BootEvent, now = Date.now()): MachineView | undefined {
    if (!ev.mac) return undefined;
    const mac = ev.mac.toLowerCase();
    const stage = stageOf(ev);
    let m = this.machines.get(mac);
    if (!m) {
      // Plain DHCP from a machine we never saw netboot is just a DHCP client.
      if (stage === undefined) return undefined;
      m = {
        mac,
        firstSeen: ev.time,
        lastSeen: ev.time,
        attempts: 1,
        attemptTimes: [ev.time],
        path: stage === 'rpl' ? 'rpl' : 'pxe',
        stages: {},
        events: [],
      };
    } else this.machines.delete(mac); // re-insert below: Map order = recency
    this.machines.set(mac, m);
    while (this.machines.size > this.maxMacs) this.machines.delete(this.machines.keys().next().value!);

    m.lastSeen = Math.max(m.lastSeen, ev.time);
    m.events.push(ev);
    if (m.events.length > this.maxEvents) m.events.splice(0, m.events.length - this.maxEvents);
    if (typeof ev.name === 'string') m.name = ev.name;
    else if (typeof ev.hostname === 'string') m.name = ev.hostname;
    if (typeof ev.ip === 'string') m.ip = ev.ip;
    else if (typeof ev.yiaddr === 'string' && ev.yiaddr !== '0.0.0.0') m.ip = ev.yiaddr;

    if (ev.svc === 'dhcp' && ev.stage === 'plain' && m.current) {
      m.osUp = ev.time;
      m.error = undefined;
      return this.view(m, now);
    }
    if (stage === undefined) return this.view(m, now);

    // Back at the start after getting further: a new attempt (reboot, or a loop).
    const idx = ORDER.get(stage)!;
    if ((stage === 'pxe' || stage === 'rpl') && m.current && ORDER.get(m.current)! > idx) {
      m.attempts++;
      m.attemptTimes.push(ev.time);
      if (m.attemptTimes.length > 20) m.attemptTimes.shift();
      m.stages = {};
      m.current = undefined;
      m.error = undefined;
      m.osUp = undefined;
      m.path = stage === 'rpl' ? 'rpl' : 'pxe';
    }
    if (stage === 'rpl') m.path = 'rpl';

    const mark = m.stages[stage];
    if (mark) {
      mark.last = ev.time;
      mark.count++;
      mark.event = ev.event;
    } else m.stages[stage] = { first: ev.time, last: ev.time, count: 1, event: ev.event };
    if (!m.current || ORDER.get(m.current)! <= idx) m.current = stage;

    if (FAILURE.test(ev.event)) {
      const detail = typeof ev.error === 'string' ? ev.error : typeof ev.reason === 'string' ? ev.reason : undefined;
      m.error = { stage, event: ev.event, time: ev.time, detail };
    } else if (m.error && ORDER.get(stage)! >= ORDER.get(m.error.stage ?? 'rpl')!) m.error = undefined;
    return this.view(m, now);
  }

  get(mac: string, now = Date.now()): MachineView | undefined {
    const m = this.machines.get(mac.toLowerCase());
    return m && this.view(m, now);
  }

  /** Most recently active first. */
  list(now = Date.now()): MachineView[] {
    return [...this.machines.values()].reverse().map((m) => this.view(m, now));
  }

  private view(m: Machine, now: number): MachineView {
    const { attemptTimes, ...rest } = m;
    return {
      ...rest,
      stages: { ...m.stages },
      events: [...m.events],
      idleMs: Math.max(0, now - m.lastSeen),
      recentAttempts: attemptTimes.filter((t) => now - t < 300_000).length,
    };
  }
}
