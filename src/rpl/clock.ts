/**
 * Time source for the RPL responder. Injected so the state machine can be
 * driven by a fake clock in tests; the real one reaches sub-millisecond
 * pacing by finishing short waits with setImmediate (setTimeout rounds to ≥1 ms).
 */
export interface RplTimer {
  cancel(): void;
}

export interface RplClock {
  /** Milliseconds, fractional (monotonic). */
  now(): number;
  /** Call fn after about `ms` milliseconds (fractional allowed; ≤ 0 = as soon as possible). */
  setTimer(ms: number, fn: () => void, opts?: { unref?: boolean }): RplTimer;
}

export const realClock: RplClock = {
  now: () => performance.now(),
  setTimer(ms, fn, opts) {
    if (ms < 1.5) {
      // Sub-millisecond: yield to I/O once, the caller re-checks its deadline.
      const h = setImmediate(fn);
      if (opts?.unref) h.unref();
      return { cancel: () => clearImmediate(h) };
    }
    // Wake a little early; the caller finishes the wait with short timers.
    const h = setTimeout(fn, Math.max(1, Math.floor(ms - 1)));
    if (opts?.unref) h.unref();
    return { cancel: () => clearTimeout(h) };
  },
};

/** A manual clock for tests: time only moves when advance() is called. */
export class FakeClock implements RplClock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): RplTimer {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return { cancel: () => this.timers.delete(id) };
  }

  /** Move time forward by ms, firing due timers in order. Bounded to avoid runaway loops. */
  advance(ms: number, maxFires = 1_000_000): void {
    const end = this.t + ms;
    for (let i = 0; i < maxFires; i++) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }

  get pending(): number {
    return this.timers.size;
  }
}
