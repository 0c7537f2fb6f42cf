import { write, writeSync } from 'node:fs';
import { pino, type Logger, type LevelWithSilent } from 'pino';

/**
 * One structured JSON line per event. Conventions every service follows:
 *   svc   - 'dhcp' | 'tftp' | 'http' | 'rpl' | 'core'
 *   event - dotted name, e.g. 'dhcp.ack', 'tftp.done', 'rpl.load'
 *   mac   - client MAC (lower-case aa:bb:cc:dd:ee:ff) on every client event,
 *           so `lanboot trace MAC` can follow one machine across services.
 */
export type { Logger };

let lastMs = -1;
let lastTime = '';
/** pino's isoTime, formatted once per millisecond: at 10,000 lines/s most lines share their millisecond. */
function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/** Default bound of LineSink's queue: about 13,000 lines of 300 bytes, a second at full DHCP load. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/**
 * The log destination: lines written in one event-loop iteration leave in one
 * write(2), made off the loop (libuv threadpool), at most one in flight; lines
 * logged meanwhile queue for the next. A service answering 6,000 DORA/s thus
 * makes a few hundred writes a second, not 12,000, and a slow reader
 * (journald, a full disk) never blocks DHCP. The queue is bounded: past
 * `maxBytes` lines are dropped and counted, and once it drains a line says how
 * many were lost (a stalled reader must not grow the heap without limit).
 */
export class LineSink {
  private queue: string[] = [];
  private queued = 0;
  private scheduled = false;
  private writing = false;
  /** Lines dropped because the queue was full (since start). */
  dropped = 0;
  private droppedUnreported = 0;

  constructor(
    readonly fd: number,
    readonly maxBytes = MAX_QUEUED_BYTES,
  ) {}

  /** pino's DestinationStream. */
  write(line: string): boolean {
    if (this.queued + line.length > this.maxBytes) {
      this.dropped++;
      this.droppedUnreported++;
      return true;
    }
    this.queue.push(line);
    this.queued += line.length;
    if (!this.scheduled && !this.writing) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return true;
  }

  private take(): Buffer {
    if (this.droppedUnreported > 0 && this.queued + 200 <= this.maxBytes) {
      this.queue.push(
        `{"level":40${isoTime()},"svc":"core","event":"log.dropped","lines":${this.droppedUnreported},"msg":"log writer fell behind: lines dropped"}\n`,
      );
      this.droppedUnreported = 0;
    }
    const data = Buffer.from(this.queue.length === 1 ? this.queue[0]! : this.queue.join(''), 'utf8');
    this.queue = [];
    this.queued = 0;
    return data;
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    this.writeOut(this.take(), 0);
  };

  private writeOut(buf: Buffer, off: number): void {
    write(this.fd, buf, off, buf.length - off, null, (err, n) => {
      if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') {
        setTimeout(() => this.writeOut(buf, off), 5); // a non-blocking pipe is full: its reader catches up
        return;
      }
      if (!err && off + n < buf.length) return this.writeOut(buf, off + n);
      // Any other error (EPIPE: the reader is gone): the lines are lost, as they would be with any logger.
      this.writing = false;
      if (this.queue.length) this.flush();
    });
  }

  /** Write what is queued, synchronously (process exit). A write still in flight finishes by itself. */
  flushSync(): void {
    if (this.queue.length === 0) return;
    const buf = this.take();
    for (let off = 0; off < buf.length; ) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      }
    }
  }
}

let stdoutSink: LineSink | undefined;
/** The one LineSink on stdout, flushed when the process exits. */
export function stdoutLines(): LineSink {
  if (!stdoutSink) {
    const sink = (stdoutSink = new LineSink(1));
    process.on('exit', () => sink.flushSync());
  }
  return stdoutSink;
}

let root: Logger = pino({
  level: process.env.LANBOOT_LOG_LEVEL ?? 'info',
  base: undefined,
  timestamp: isoTime,
});

export function setRootLogger(l: Logger): void {
  root = l;
}

export function makeLogger(level: LevelWithSilent, dest?: pino.DestinationStream): Logger {
  return pino({ level, base: undefined, timestamp: isoTime }, dest ?? stdoutLines());
}

export function logger(svc: string): Logger {
  return root.child({ svc });
}

/** A logger that drops everything; for tests and benchmarks. */
export const silent: Logger = pino({ level: 'silent' });
