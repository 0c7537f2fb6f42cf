/**
 * Warnings and errors a remote packet can trigger (a send that fails, a
 * client's PROGRAM.ALERT, a handler bug hit by a malformed request) must not
 * let a flood write a line per packet. limitLogs() wraps a service's logger:
 * per event name, `lines` warn/error lines per `intervalMs`, then silence and,
 * when the interval ends, one line saying how many were left out. Other
 * levels pass through; counters are the services' own and count everything.
 */
import type { Logger } from './log.js';

export interface LogLimitOptions {
  /** Lines per event name per interval (default 10). */
  lines?: number;
  /** Interval in ms (default 10 s). */
  intervalMs?: number;
  now?: () => number;
}

type Level = 'warn' | 'error' | 'fatal';
const LIMITED: ReadonlySet<string> = new Set<Level>(['warn', 'error', 'fatal']);
/** Distinct event names tracked; names come from code, this only guards against a key built from input. */
const MAX_KEYS = 256;

interface Budget {
  /** The logger of the first line: the summary carries its bindings (svc). */
  log: Logger;
  start: number;
  lines: number;
  suppressed: number;
  level: Level;
  timer?: NodeJS.Timeout;
}

class Limiter {
  private readonly budgets = new Map<string, Budget>();
  readonly lines: number;
  readonly intervalMs: number;
  private readonly now: () => number;

  constructor(o: LogLimitOptions) {
    this.lines = o.lines ?? 10;
    this.intervalMs = o.intervalMs ?? 10_000;
    this.now = o.now ?? Date.now;
  }

  /** True if this line may be written now. */
  allow(key: string, level: Level, log: Logger): boolean {
    const now = this.now();
    let b = this.budgets.get(key);
    if (b && now - b.start >= this.intervalMs) {
      this.flush(key, b);
      b = undefined;
    }
    if (!b) {
      if (this.budgets.size >= MAX_KEYS) this.flushAll();
      b = { log, start: now, lines: 0, suppressed: 0, level };
      this.budgets.set(key, b);
    }
    if (b.lines < this.lines) {
      b.lines++;
      return true;
    }
    b.suppressed++;
    if (!b.timer) {
      b.timer = setTimeout(() => this.flush(key, b!), Math.max(0, b.start + this.intervalMs - now));
      b.timer.unref();
    }
    return false;
  }

  private flush(key: string, b: Budget): void {
    if (this.budgets.get(key) === b) this.budgets.delete(key);
    if (b.timer) clearTimeout(b.timer);
    b.timer = undefined;
    if (b.suppressed === 0) return;
    const n = b.suppressed;
    b.suppressed = 0;
    b.log[b.level]({ event: key, suppressed: n, interval_s: this.intervalMs / 1000 }, `${n} more ${key} lines suppressed in ${this.intervalMs / 1000} s`);
  }

  private flushAll(): void {
    for (const [k, b] of [...this.budgets]) this.flush(k, b);
  }
}

/** `log` with warn/error/fatal limited per `event` (or message) name; child loggers share the budget. */
export function limitLogs(log: Logger, o: LogLimitOptions = {}): Logger {
  return wrap(log, new Limiter(o));
}

function wrap(log: Logger, limiter: Limiter): Logger {
  // Other methods (info, debug, ...) run on the logger itself, bound once per function: called
  // on the proxy, every property pino reads inside them would go through get() (~15 per line).
  const bound = new Map<PropertyKey, { fn: unknown; out: unknown }>();
  return new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'child') {
        return (...args: Parameters<Logger["child"]>) => wrap(target.child(...args) as unknown as Logger, limiter);
      }
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      if (!LIMITED.has(prop)) {
        const b = bound.get(prop);
        if (b && b.fn === v) return b.out; // setLevel() swaps the level methods: rebound then
        const out = (v as (...a: unknown[]) => unknown).bind(target);
        bound.set(prop, { fn: v, out });
        return out;
      }
      const level = prop as Level;
      return (...args: unknown[]) => {
        if (!target.isLevelEnabled(level)) return;
        const first = args[0];
        const key =
          first && typeof first === 'object' && typeof (first as { event?: unknown }).event === 'string'
            ? (first as { event: string }).event
            : typeof first === 'string'
              ? first
              : typeof args[1] === 'string'
                ? args[1]
                : level;
        if (limiter.allow(key, level, target)) (v as (...a: unknown[]) => void).apply(target, args);
      };
    },
  });
}
