import { fstatSync, writeSync, type Stats } from 'node:fs';
import { Socket } from 'node:net';
import { isatty } from 'node:tty';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { telemetry } from './telemetry.js';
import { textDestination, textLine } from './log-text.js';

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
 * The log destination. Lines logged in one event-loop iteration leave in one
 * write(2) made on the loop itself: a hand-off to libuv's threadpool costs
 * more (thread wake-ups, a completion event) than the write, about 50 us per
 * line on a small VM. A pipe or socket (journald, `| tee`) is written through a
 * non-blocking libuv stream, so a slow reader never blocks DHCP; a file or
 * terminal by write(2) directly. What waits for a slow reader is bounded: past
 * `maxBytes` lines are dropped and counted, and once there is room again a
 * line says how many were lost (a stalled reader must not grow the heap
 * without limit).
 */
export class LineSink {
  private queue: string[] = [];
  private queued = 0;
  private scheduled = false;
  private stream?: Socket;
  private kind?: 'stream' | 'direct';
  private retry?: NodeJS.Timeout;
  /** Rewrites the sink's own lines (the dropped-lines notice) as its writers' lines are: log.format text. */
  reformat?: (jsonLine: string) => string;
  /** Lines dropped because the queue was full (since start). */
  dropped = 0;
  private droppedUnreported = 0;

  constructor(
    readonly fd: number,
    readonly maxBytes = MAX_QUEUED_BYTES,
  ) {}

  /** pino's DestinationStream. */
  write(line: string): boolean {
    if (this.queued + line.length + (this.stream?.writableLength ?? 0) > this.maxBytes) {
      this.dropped++;
      this.droppedUnreported++;
      return true;
    }
    this.queue.push(line);
    this.queued += line.length;
    if (!this.scheduled && !this.retry) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return true;
  }

  private take(): string {
    if (this.droppedUnreported > 0 && this.queued + 200 <= this.maxBytes) {
      const notice = `{"level":40${isoTime()},"svc":"core","event":"log.dropped","lines":${this.droppedUnreported},"msg":"log writer fell behind: lines dropped"}\n`;
      this.queue.push(this.reformat ? this.reformat(notice) : notice);
      this.droppedUnreported = 0;
    }
    const data = this.queue.length === 1 ? this.queue[0]! : this.queue.join('');
    this.queue = [];
    this.queued = 0;
    return data;
  }

  private open(): void {
    let st: Stats | undefined;
    try {
      st = fstatSync(this.fd);
    } catch {
      st = undefined;
    }
    if (st && (st.isFIFO() || st.isSocket())) {
      this.stream = new Socket({ fd: this.fd, readable: false, writable: true });
      this.stream.on('error', () => undefined); // EPIPE: the reader is gone; lines are lost as with any logger
      this.stream.unref?.();
      this.kind = 'stream';
    } else this.kind = 'direct';
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    if (!this.kind) this.open();
    if (this.kind === 'stream') {
      this.stream!.write(this.take());
      return;
    }
    this.writeDirect(Buffer.from(this.take(), 'utf8'));
  };

  private writeDirect(buf: Buffer): void {
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return; // lines lost, as with any logger
        // A non-blocking terminal or pipe is full: try again shortly, keeping the order.
        const rest = buf.subarray(off);
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.writeDirect(rest);
          if (this.queue.length && !this.retry) this.flush();
        }, 5);
        return;
      }
    }
  }

  /** Write what is queued, synchronously (process exit). */
  flushSync(): void {
    if (this.queue.length === 0) return;
    const buf = Buffer.from(this.take(), 'utf8');
    for (let off = 0, tries = 0; off < buf.length && tries < 1000; ) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
        tries++;
      }
    }
  }
}

let stdoutSink: LineSink | undefined;
/** The one LineSink on stdout, flushed when the process exits; its losses are a /metrics gauge. */
export function stdoutLines(): LineSink {
  if (!stdoutSink) {
    const sink = (stdoutSink = new LineSink(1));
    process.on('exit', () => sink.flushSync());
    telemetry.gauge('lanboot_log_lines_dropped', () => sink.dropped);
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

export type LogFormat = 'text' | 'json';

/**
 * log.format when the config does not say: text when stdout is a terminal (a
 * person reads it), JSON anywhere else. Under systemd stdout is journald's
 * stream socket (the one JOURNAL_STREAM names), never a terminal, so a unit
 * logs JSON without looking at the environment; so do a pipe and a file. A
 * unit with StandardOutput=tty writes to a console someone watches: text.
 */
export function defaultLogFormat(fd = 1): LogFormat {
  return isatty(fd) ? 'text' : 'json';
}

/**
 * The logger `lanboot start` uses. JSON is pino's line as it is; text
 * rewrites that line on its way to the sink (log-text.ts), so choosing text
 * adds nothing to the JSON path.
 */
export function makeLogger(level: LevelWithSilent, dest?: pino.DestinationStream, format: LogFormat = 'json'): Logger {
  const out = dest ?? stdoutLines();
  if (format === 'text' && out instanceof LineSink) out.reformat = textLine;
  return pino({ level, base: undefined, timestamp: isoTime }, format === 'text' ? textDestination(out) : out);
}

export function logger(svc: string): Logger {
  return root.child({ svc });
}

/** A logger that drops everything; for tests and benchmarks. */
export const silent: Logger = pino({ level: 'silent' });
