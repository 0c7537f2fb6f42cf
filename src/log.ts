import { pino, type Logger, type LevelWithSilent } from 'pino';

/**
 * One structured JSON line per event. Conventions every service follows:
 *   svc   - 'dhcp' | 'tftp' | 'http' | 'rpl' | 'core'
 *   event - dotted name, e.g. 'dhcp.ack', 'tftp.done', 'rpl.load'
 *   mac   - client MAC (lower-case aa:bb:cc:dd:ee:ff) on every client event,
 *           so `lanboot trace MAC` can follow one machine across services.
 */
export type { Logger };

let root: Logger = pino({
  level: process.env.LANBOOT_LOG_LEVEL ?? 'info',
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
});

export function setRootLogger(l: Logger): void {
  root = l;
}

export function makeLogger(level: LevelWithSilent, dest?: pino.DestinationStream): Logger {
  const l = pino(
    { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    dest ?? pino.destination({ dest: 1, sync: false }),
  );
  return l;
}

export function logger(svc: string): Logger {
  return root.child({ svc });
}

/** A logger that drops everything; for tests and benchmarks. */
export const silent: Logger = pino({ level: 'silent' });
