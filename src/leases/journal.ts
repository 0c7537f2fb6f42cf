/**
 * Append-only record journal with group commit and crash-safe compaction.
 *
 * Frame: u32 BE payload length | u32 BE CRC-32 of payload | payload (UTF-8 JSON).
 * After `kill -9` or a power cut the last frame may be torn (short, or its CRC
 * does not match); load() stops at the first bad frame and truncates the file
 * there, so the next append starts on a frame boundary.
 *
 * Group commit: commit(records) queues the frames; one writer loop writes
 * everything queued and fdatasync()s once, then resolves every commit in that
 * batch. Commits arriving while an fsync is in flight form the next batch, so
 * under load many ACKs share one fsync and throughput holds; an idle server
 * syncs a single record right away (plus an optional delay to gather more).
 */
import { constants as fsc, promises as fsp, openSync, readFileSync, closeSync, ftruncateSync, fsyncSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { crc32 } from 'node:zlib';

const FRAME_HEADER = 8;
/** Refuse absurd frame lengths in a damaged file rather than allocating them. */
const MAX_FRAME = 1 << 20;

export interface LoadResult<R> {
  records: R[];
  /** Bytes of valid frames. */
  validBytes: number;
  /** Bytes cut off at the end (torn or corrupt tail). */
  truncatedBytes: number;
}

export function encodeFrame(record: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(record), 'utf8');
  const frame = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.writeUInt32BE(crc32(payload) >>> 0, 4);
  payload.copy(frame, FRAME_HEADER);
  return frame;
}

/** Parse frames until the first bad one; pure (for tests and tools). */
export function parseFrames<R>(buf: Buffer): { records: R[]; validBytes: number } {
  const records: R[] = [];
  let off = 0;
  while (off + FRAME_HEADER <= buf.length) {
    const len = buf.readUInt32BE(off);
    const crc = buf.readUInt32BE(off + 4);
    if (len > MAX_FRAME || off + FRAME_HEADER + len > buf.length) break;
    const payload = buf.subarray(off + FRAME_HEADER, off + FRAME_HEADER + len);
    if ((crc32(payload) >>> 0) !== crc) break;
    let rec: R;
    try {
      rec = JSON.parse(payload.toString('utf8')) as R;
    } catch {
      break;
    }
    records.push(rec);
    off += FRAME_HEADER + len;
  }
  return { records, validBytes: off };
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
    const { records, validBytes } = parseFrames<R>(buf);
    const truncatedBytes = buf.length - validBytes;
    if (truncatedBytes > 0) {
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
    this.size = validBytes;
    this.recordCount = records.length;
    return { records, validBytes, truncatedBytes };
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
      for (const w of batch.waiters) w.reject(e as Error);
    }
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
      const tmp = this.tmpPath();
      const data = Buffer.concat(records.map(encodeFrame));
      const t = await fsp.open(tmp, 'w', 0o600);
      try {
        await t.writeFile(data);
        if (!this.opts.noSync) await t.sync();
      } finally {
        await t.close();
      }
      await fsp.rename(tmp, this.path);
      await this.syncDir();
      const old = this.fh;
      this.fh = await fsp.open(this.path, fsc.O_WRONLY | fsc.O_APPEND);
      await old.close();
      this.size = data.length;
      this.recordCount = records.length;
    } finally {
      this.compacting = false;
      if (this.pending.waiters.length) this.schedule();
    }
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
