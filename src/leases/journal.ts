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
 * Group commit: commit(records) queues the frames; one write of everything
 * queued reaches the disk (the file is opened O_DSYNC: write and sync are one
 * threadpool operation), then every commit in that batch resolves. Commits
 * arriving while a write is in flight form the next batch, so under load many
 * ACKs share one sync; an idle server writes a single record at once.
 *
 * Compaction (compact()) writes the live state to a new file while commits go
 * on appending to the old one; what they appended meanwhile is copied after
 * the snapshot, and only that last copy, its sync and the rename hold commits.
 */
import fs, { constants as fsc, promises as fsp, openSync, readFileSync, closeSync, ftruncateSync, fsyncSync, copyFileSync } from 'node:fs';
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
  // The JSON is written straight after the header: one buffer per record, no payload copy.
  const json = JSON.stringify(record);
  const len = Buffer.byteLength(json, 'utf8');
  const frame = Buffer.allocUnsafe(FRAME_HEADER + len);
  frame.write(json, FRAME_HEADER, 'utf8');
  frame.writeUInt32BE(len, 0);
  frame.writeUInt32BE(crc32(frame.subarray(FRAME_HEADER)) >>> 0, 4);
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
  /** Skip the sync (benchmarks comparing against non-durable servers only). */
  noSync?: boolean;
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Pending {
  frames: Buffer[];
  bytes: number;
  waiters: Waiter[];
}

/** Records encoded per slice while a snapshot is written: about 3 ms of the loop at a time. */
const SNAPSHOT_SLICE = 1000;
/** Carried-over bytes below this are copied with commits held; above, they are copied first while commits go on. */
const CARRY_HOLD_BYTES = 64 * 1024;

const newPending = (): Pending => ({ frames: [], bytes: 0, waiters: [] });

function fsCall<T>(fn: (cb: (err: NodeJS.ErrnoException | null, v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

/** Write all of `data` at the file's end (O_APPEND), however many calls it takes. */
function appendAll(fd: number, data: Buffer, cb: (err: NodeJS.ErrnoException | null) => void, off = 0): void {
  fs.write(fd, data, off, data.length - off, null, (err, n) => {
    if (err) return cb(err);
    if (off + n < data.length) return appendAll(fd, data, cb, off + n);
    cb(null);
  });
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

export class Journal<R = unknown> {
  /** Append descriptor: O_WRONLY | O_APPEND, and O_DSYNC unless noSync. */
  private fd = -1;
  private pending: Pending = newPending();
  /** A write is in flight. */
  private writing = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Compaction's last step: no write may start (the file is being replaced). */
  private held = false;
  private compacting: Promise<void> | null = null;
  /** While a compaction runs: what reached the old file since it began, to be copied to the new one. */
  private carry: Buffer[] | null = null;
  private carryRecords = 0;
  /** Called when no write is in flight (compaction waits for this before replacing the file). */
  private idleWaiters: Array<() => void> = [];
  /** Bytes in the file (valid frames). */
  size = 0;
  /** Records in the file (for the compaction policy). */
  recordCount = 0;
  /** Writes that reached the disk (a metric: commits / syncs = batching factor). */
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

  private get appendFlags(): number {
    return fsc.O_WRONLY | fsc.O_APPEND | (this.opts.noSync ? 0 : fsc.O_DSYNC);
  }

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
    this.fd = await fsCall<number>((cb) => fs.open(this.path, this.appendFlags | fsc.O_CREAT, 0o600, cb));
    if (buf.length === 0) await this.syncDir();
    this.size = size;
    this.recordCount = records.length;
    return { records, validBytes, truncatedBytes, skippedBytes, skippedRegions, damagedCopy };
  }

  /** Append records; resolves once they are on disk. */
  commit(records: R[]): Promise<void> {
    if (this.closed || this.fd < 0) return Promise.reject(new Error('journal is closed'));
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
    if (this.writing || this.timer || this.held) return;
    const delay = this.opts.commitDelayMs ?? 0;
    if (delay > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, delay);
    } else {
      this.flush();
    }
  }

  /** Write everything queued as one batch; the next batch starts when it is done. */
  private flush(): void {
    if (this.writing || this.held || this.pending.waiters.length === 0) return;
    const batch = this.pending;
    this.pending = newPending();
    this.writing = true;
    const data = batch.frames.length === 1 ? batch.frames[0]! : Buffer.concat(batch.frames, batch.bytes);
    const done = (err: NodeJS.ErrnoException | null): void => {
      if (err) {
        this.failures++;
        // A short write (ENOSPC) leaves part of a frame at the end: cut it off before anything else is appended.
        this.damagedTail = true;
        this.rewind((rerr) => {
          this.writing = false;
          for (const w of batch.waiters) w.reject(err);
          void rerr; // still damaged: the next batch tries the cut again first
          this.afterWrite();
        });
        return;
      }
      this.writing = false;
      this.syncs++;
      this.size += data.length;
      this.recordCount += batch.frames.length;
      if (this.carry) {
        this.carry.push(data);
        this.carryRecords += batch.frames.length;
      }
      for (const w of batch.waiters) w.resolve();
      this.afterWrite();
    };
    const write = (): void => appendAll(this.fd, data, done);
    // A failed append that could not be cut back leaves the tail unknown: nothing is appended after it.
    if (this.damagedTail) this.rewind((err) => (err ? done(err) : write()));
    else write();
  }

  private afterWrite(): void {
    if (this.idleWaiters.length) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
    if (this.pending.waiters.length) this.schedule();
  }

  /** Truncate the file back to the last frame known to be complete. */
  private rewind(cb: (err: NodeJS.ErrnoException | null) => void): void {
    fs.ftruncate(this.fd, this.size, (err) => {
      if (err) return cb(err);
      const ok = (e: NodeJS.ErrnoException | null): void => {
        if (!e) this.damagedTail = false;
        cb(e);
      };
      if (this.opts.noSync) ok(null);
      else fs.fdatasync(this.fd, ok);
    });
  }

  /** Resolves when no write is in flight. */
  private idle(): Promise<void> {
    if (!this.writing) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Wait until everything committed so far is on disk (or has failed). */
  async drain(): Promise<void> {
    while (this.writing || this.timer || this.pending.waiters.length || this.held) {
      if (this.held) await this.compacting?.catch(() => undefined); // a failed compaction leaves the old file: go on draining into it
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
        this.flush();
      }
      if (this.writing) await this.idle();
      else this.flush();
    }
  }

  /**
   * Replace the journal with `snapshot()` (the live state as records): the
   * records are encoded a slice at a time into a new file, between which the
   * loop serves requests and commits keep appending to the old file. The
   * bytes appended since the compaction began are then copied to the new
   * file, which is synced and renamed over the journal, and the directory
   * synced; only that last copy, sync and rename hold new writes. Replay is an
   * upsert per address, so a record both in the snapshot and carried over is
   * harmless; a crash before the rename leaves the old journal whole.
   *
   * `snapshot` runs in a later event-loop turn than the call: every commit
   * that completed before it has had its continuations run (the store's
   * in-memory view then tells committed from pending state).
   */
  compact(snapshot: () => R[]): Promise<void> {
    if (this.fd < 0) return Promise.reject(new Error('journal is not open'));
    if (!this.compacting) {
      this.compacting = this.compactNow(snapshot).finally(() => {
        this.compacting = null;
      });
    }
    return this.compacting;
  }

  private async compactNow(snapshot: () => R[]): Promise<void> {
    const tmp = this.tmpPath();
    let t = -1;
    let renamed = false;
    try {
      await yieldToLoop();
      this.carry = [];
      this.carryRecords = 0;
      const records = snapshot();
      t = await fsCall<number>((cb) => fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_APPEND, 0o600, cb));
      let bytes = 0;
      for (let i = 0; i < records.length; i += SNAPSHOT_SLICE) {
        if (i > 0) await yieldToLoop();
        const end = Math.min(records.length, i + SNAPSHOT_SLICE);
        const frames: Buffer[] = [];
        for (let k = i; k < end; k++) frames.push(encodeFrame(records[k]));
        const chunk = Buffer.concat(frames);
        await fsCall<void>((cb) => appendAll(t, chunk, (e) => cb(e, undefined)));
        bytes += chunk.length;
      }
      if (!this.opts.noSync) await fsCall<void>((cb) => fs.fdatasync(t, (e) => cb(e, undefined)));
      // Copy what commits appended meanwhile, while they go on, until little is left.
      let carried = 0;
      const copyCarry = async (): Promise<void> => {
        const bufs = this.carry!;
        this.carry = [];
        carried += this.carryRecords;
        this.carryRecords = 0;
        if (!bufs.length) return;
        const data = Buffer.concat(bufs);
        await fsCall<void>((cb) => appendAll(t, data, (e) => cb(e, undefined)));
        bytes += data.length;
      };
      while (this.carry!.reduce((n, b) => n + b.length, 0) > CARRY_HOLD_BYTES) await copyCarry();
      // The new file's own append descriptor, opened before the hold (it is the same inode after the rename).
      const next = await fsCall<number>((cb) => fs.open(tmp, this.appendFlags, cb));
      try {
        this.held = true;
        if (this.timer) {
          clearTimeout(this.timer);
          this.timer = null;
        }
        await this.idle();
        await copyCarry();
        this.carry = null;
        if (!this.opts.noSync) await fsCall<void>((cb) => fs.fdatasync(t, (e) => cb(e, undefined)));
        await fsp.rename(tmp, this.path);
        renamed = true;
      } catch (e) {
        fs.close(next, () => undefined);
        throw e;
      }
      // From here the new file is the journal: append to it, whatever the directory sync says.
      const old = this.fd;
      this.fd = next;
      this.size = bytes;
      this.recordCount = records.length + carried;
      this.damagedTail = false;
      fs.close(old, () => undefined);
      await this.syncDir();
    } finally {
      this.carry = null;
      if (t >= 0) fs.close(t, () => undefined);
      if (!renamed) await fsp.rm(tmp, { force: true }).catch(() => undefined);
      this.held = false;
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
    if (this.compacting) await this.compacting.catch(() => undefined);
    await this.drain();
    this.closed = true;
    const fd = this.fd;
    this.fd = -1;
    if (fd >= 0) await fsCall<void>((cb) => fs.close(fd, (e) => cb(e, undefined)));
  }
}
