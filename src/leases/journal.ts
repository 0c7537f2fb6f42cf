/**
 * Append-only record journal with group commit and crash-safe compaction.
 *
 * Frame: u32 BE payload length | u32 BE CRC-32 of payload | payload (UTF-8 JSON object).
 *
 * Damage on load:
 *  - a torn tail (kill -9 or power cut mid-write: short, or CRC mismatch, with
 *    no valid frame after it) is cut off, so the next append starts on a frame
 *    boundary;
 *  - a bad frame in the middle (a flipped bit) is skipped by resynchronising on
 *    the next valid header + CRC: the records after it are kept. The damaged
 *    file is copied aside and the journal rewritten from the valid frames.
 *
 * A failed append (ENOSPC, EIO) is cut back to the last good frame before
 * anything else is written, so a partial frame never hides later records.
 *
 * Group commit: commit(records) queues the frames; one writer loop writes
 * everything queued and fdatasync()s once, then resolves every commit in that
 * batch. Commits arriving while an fsync is in flight form the next batch, so
 * under load many ACKs share one fsync and throughput holds; an idle server
 * syncs a single record right away (plus an optional delay to gather more).
 */
import { constants as fsc, promises as fsp, openSync, readFileSync, closeSync, ftruncateSync, fsyncSync, copyFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { crc32 } from 'node:zlib';

const FRAME_HEADER = 8;
/** Refuse absurd frame lengths in a damaged file rather than allocating them. */
const MAX_FRAME = 1 << 20;
const OPEN_BRACE = 0x7b;

export interface LoadResult<R> {
  records: R[];
  /** End of the last valid frame. */
  validBytes: number;
  /** Bytes cut off at the end (torn or corrupt tail). */
  truncatedBytes: number;
  /** Bytes of bad frames skipped between valid ones. */
  skippedBytes: number;
  /** Number of damaged regions skipped. */
  skippedRegions: number;
  /** Where the damaged file was copied before the journal was rewritten. */
  damagedCopy?: string;
}

export function encodeFrame(record: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(record), 'utf8');
  const frame = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.writeUInt32BE(crc32(payload) >>> 0, 4);
  payload.copy(frame, FRAME_HEADER);
  return frame;
}

/** The record of a valid frame at `off`, or undefined; `len` is set on success. */
function frameAt<R>(buf: Buffer, off: number): { rec: R; size: number } | undefined {
  if (off + FRAME_HEADER >= buf.length) return undefined;
  const len = buf.readUInt32BE(off);
  if (len === 0 || len > MAX_FRAME || off + FRAME_HEADER + len > buf.length) return undefined;
  if (buf[off + FRAME_HEADER] !== OPEN_BRACE) return undefined;
  const payload = buf.subarray(off + FRAME_HEADER, off + FRAME_HEADER + len);
  if ((crc32(payload) >>> 0) !== buf.readUInt32BE(off + 4)) return undefined;
  try {
    return { rec: JSON.parse(payload.toString('utf8')) as R, size: FRAME_HEADER + len };
  } catch {
    return undefined;
  }
}

/**
 * Next offset >= `from` holding a valid frame, or -1. A header starts with a
 * zero byte (len < 16 MiB) and the payload with '{'; JSON text never holds a raw
 * NUL, so candidates are rare and each is confirmed by its CRC.
 */
function resync(buf: Buffer, from: number): number {
  for (let i = buf.indexOf(0, from); i >= 0 && i + FRAME_HEADER < buf.length; i = buf.indexOf(0, i + 1)) {
    if (buf[i + 1]! <= 0x10 && buf[i + FRAME_HEADER] === OPEN_BRACE && frameAt(buf, i)) return i;
  }
  return -1;
}

/** Parse every valid frame, skipping damaged regions; pure (for tests and tools). */
export function parseFrames<R>(buf: Buffer): { records: R[]; validBytes: number; skippedBytes: number; skippedRegions: number } {
  const records: R[] = [];
  let off = 0;
  let validBytes = 0;
  let skippedBytes = 0;
  let skippedRegions = 0;
  while (off + FRAME_HEADER < buf.length) {
    const f = frameAt<R>(buf, off);
    if (f) {
      records.push(f.rec);
      off += f.size;
      validBytes = off;
      continue;
    }
    const next = resync(buf, off + 1);
    if (next < 0) break; // torn tail
    skippedBytes += next - off;
    skippedRegions++;
    off = next;
  }
  return { records, validBytes, skippedBytes, skippedRegions };
}

export interface JournalOptions {
  /** ms to wait before starting a batch, to gather more commits (0 = start at once). */
  commitDelayMs?: number;
  /** Skip fsync (benchmarks comparing against non-durable servers only). */
  noSync?: boolean;
}

interface Pending {
  frames: Buffer[];
  bytes: number;
  waiters: Array<{ resolve: () => void; reject: (e: Error) => void }>;
}

export class Journal<R = unknown> {
  private fh: fsp.FileHandle | null = null;
  private pending: Pending = { frames: [], bytes: 0, waiters: [] };
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private compacting = false;
  /** Bytes in the file (valid frames). */
  size = 0;
  /** Records in the file (for the compaction policy). */
  recordCount = 0;
  /** fsyncs done (a metric: commits / syncs = batching factor). */
  syncs = 0;
  commits = 0;
  /** Batches that failed to reach the disk (their commits were rejected). */
  failures = 0;
  /** A failed append may have left a partial frame that is not cut off yet. */
  private damagedTail = false;

  constructor(
    readonly path: string,
    private readonly opts: JournalOptions = {},
  ) {}

  /**
   * Read all valid records, truncate a torn tail, and open for appending.
   * Also removes a leftover compaction temp file (a crash mid-compaction
   * leaves the old journal intact, so the temp file is garbage).
   */
  async open(): Promise<LoadResult<R>> {
    await fsp.mkdir(dirname(this.path), { recursive: true });
    await fsp.rm(this.tmpPath(), { force: true });
    let buf: Buffer;
    try {
      buf = readFileSync(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      buf = Buffer.alloc(0);
    }
    const { records, validBytes, skippedBytes, skippedRegions } = parseFrames<R>(buf);
    const truncatedBytes = buf.length - validBytes;
    let damagedCopy: string | undefined;
    let size = validBytes;
    if (skippedRegions > 0) {
      // Keep the evidence, then rewrite so the next load (and every append) sees only valid frames.
      damagedCopy = `${this.path}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      copyFileSync(this.path, damagedCopy);
      const clean = Buffer.concat(records.map(encodeFrame));
      await this.replaceFile(clean);
      size = clean.length;
    } else if (truncatedBytes > 0) {
      const fd = openSync(this.path, 'r+');
      try {
        ftruncateSync(fd, validBytes);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    this.fh = await fsp.open(this.path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_APPEND, 0o600);
    if (buf.length === 0) await this.syncDir();
    this.size = size;
    this.recordCount = records.length;
    return { records, validBytes, truncatedBytes, skippedBytes, skippedRegions, damagedCopy };
  }

  /** Append records; resolves once they are on disk (fdatasync done). */
  commit(records: R[]): Promise<void> {
    if (this.closed || !this.fh) return Promise.reject(new Error('journal is closed'));
    return new Promise<void>((resolve, reject) => {
      for (const r of records) {
        const f = encodeFrame(r);
        this.pending.frames.push(f);
        this.pending.bytes += f.length;
      }
      this.pending.waiters.push({ resolve, reject });
      this.commits++;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing || this.timer || this.compacting) return;
    const delay = this.opts.commitDelayMs ?? 0;
    if (delay > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.startFlush();
      }, delay);
    } else {
      this.startFlush();
    }
  }

  private startFlush(): void {
    if (this.flushing || this.compacting || this.pending.waiters.length === 0) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = null;
      if (this.pending.waiters.length) this.schedule();
    });
  }

  private async flushLoop(): Promise<void> {
    const batch = this.pending;
    this.pending = { frames: [], bytes: 0, waiters: [] };
    try {
      // A failed append that could not be cut back leaves the tail unknown: nothing is appended after it.
      if (this.damagedTail) await this.rewind();
      const data = batch.frames.length === 1 ? batch.frames[0]! : Buffer.concat(batch.frames, batch.bytes);
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await this.fh!.write(data, off, data.length - off);
        off += bytesWritten;
      }
      if (!this.opts.noSync) await this.fh!.datasync();
      this.syncs++;
      this.size += data.length;
      this.recordCount += batch.frames.length;
      for (const w of batch.waiters) w.resolve();
    } catch (e) {
      this.failures++;
      // A short write (ENOSPC) leaves part of a frame at the end: cut it off before anything else is appended.
      this.damagedTail = true;
      await this.rewind().catch(() => undefined);
      for (const w of batch.waiters) w.reject(e as Error);
    }
  }

  /** Truncate the file back to the last frame known to be complete. */
  private async rewind(): Promise<void> {
    await this.fh!.truncate(this.size);
    if (!this.opts.noSync) await this.fh!.datasync();
    this.damagedTail = false;
  }

  /** Wait until everything committed so far is on disk. */
  async drain(): Promise<void> {
    while (this.flushing || this.timer || this.pending.waiters.length) {
      if (this.compacting) {
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
        this.startFlush();
      }
      if (this.flushing) await this.flushing;
      else this.startFlush();
    }
  }

  /**
   * Replace the journal with `snapshot` (the live state as records):
   * write temp file, fsync, rename over the journal, fsync the directory.
   * Commits made meanwhile wait (no flush may touch the old file once the
   * snapshot is taken) and land in the new file afterwards. Replay is an
   * upsert per address, so a record both in the snapshot and re-appended is harmless.
   */
  async compact(snapshot: () => R[]): Promise<void> {
    if (!this.fh) throw new Error('journal is not open');
    if (this.compacting) return;
    this.compacting = true;
    try {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      while (this.flushing) await this.flushing;
      // Flush what was queued before the snapshot so those waiters resolve now.
      if (this.pending.waiters.length) await this.flushLoop();
      const records = snapshot();
      const data = Buffer.concat(records.map(encodeFrame));
      await this.replaceFile(data);
      const old = this.fh;
      this.fh = await fsp.open(this.path, fsc.O_WRONLY | fsc.O_APPEND);
      await old.close();
      this.size = data.length;
      this.recordCount = records.length;
      this.damagedTail = false;
    } finally {
      this.compacting = false;
      if (this.pending.waiters.length) this.schedule();
    }
  }

  /** Atomically replace the journal's contents: temp file, fsync, rename, fsync the directory. */
  private async replaceFile(data: Buffer): Promise<void> {
    const tmp = this.tmpPath();
    const t = await fsp.open(tmp, 'w', 0o600);
    try {
      await t.writeFile(data);
      if (!this.opts.noSync) await t.sync();
    } catch (e) {
      await t.close().catch(() => undefined);
      await fsp.rm(tmp, { force: true });
      throw e;
    }
    await t.close();
    await fsp.rename(tmp, this.path);
    await this.syncDir();
  }

  private tmpPath(): string {
    return join(dirname(this.path), '.' + basename(this.path) + '.tmp');
  }

  private async syncDir(): Promise<void> {
    if (this.opts.noSync) return;
    const d = await fsp.open(dirname(this.path), 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain();
    this.closed = true;
    await this.fh?.close();
    this.fh = null;
  }
}
