import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { limitLogs } from '../src/log-limit.js';

function capture() {
  const lines: Array<Record<string, any>> = [];
  const log = pino({ level: 'info', base: undefined }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

afterEach(() => vi.useRealTimers());

describe('limitLogs', () => {
  it('writes N warn/error lines per event and interval, then one line with how many were left out', () => {
    vi.useFakeTimers();
    const { log, lines } = capture();
    const l = limitLogs(log, { lines: 5, intervalMs: 10_000 });
    for (let i = 0; i < 1000; i++) l.warn({ event: 'x.send_error', i }, 'send failed');
    for (let i = 0; i < 3; i++) l.error({ event: 'x.other' }, 'other');
    for (let i = 0; i < 50; i++) l.info({ event: 'x.info' }, 'info is not limited');
    expect(lines.filter((e) => e.event === 'x.send_error').map((e) => e.i)).toEqual([0, 1, 2, 3, 4]);
    expect(lines.filter((e) => e.event === 'x.other')).toHaveLength(3);
    expect(lines.filter((e) => e.event === 'x.info')).toHaveLength(50);
    vi.advanceTimersByTime(10_000);
    const summary = lines.filter((e) => e.event === 'x.send_error' && e.suppressed !== undefined);
    expect(summary).toEqual([expect.objectContaining({ level: 40, suppressed: 995, interval_s: 10, msg: '995 more x.send_error lines suppressed in 10 s' })]);
    // A new interval: lines again.
    l.warn({ event: 'x.send_error', i: 1000 }, 'send failed');
    expect(lines.at(-1)).toMatchObject({ event: 'x.send_error', i: 1000 });
  });

  it('children share the budget and keep their bindings; levels that are off cost nothing', () => {
    vi.useFakeTimers();
    const { log, lines } = capture();
    const l = limitLogs(log, { lines: 2 });
    const c = l.child({ svc: 'tftp' });
    for (let i = 0; i < 10; i++) (i % 2 ? l : c).warn({ event: 'y' }, 'y');
    expect(lines).toHaveLength(2);
    vi.advanceTimersByTime(10_000);
    expect(lines.at(-1)).toMatchObject({ svc: 'tftp', suppressed: 8 });
    const quiet = limitLogs(pino({ level: 'error' }, { write: () => expect.fail('nothing is written') }));
    for (let i = 0; i < 100; i++) quiet.warn({ event: 'z' }, 'z');
  });
});
