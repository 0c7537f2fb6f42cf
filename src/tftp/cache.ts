/**
 * Shared file access for a boot storm: small files live in memory (LRU by
 * bytes, keyed by path and validated by dev/ino/mtime/size on every request),
 * big files share one descriptor per file version. Concurrent misses for the
 * same file wait on one load, so 200 clients cost one read from disk.
 */
import fs from 'node:fs';
import { ConfinementError, closeFd, openConfined } from './paths.js';

export interface FileRef {
  size: number;
  /** The whole file, when cached in memory. */
  data?: Buffer;
  /** A shared descriptor (read with positional reads only). */
  fd?: number;
  release(): void;
}

interface MemEntry {
  ident: string;
  data: Buffer;
}

interface FdEntry {
  fd: number;
  size: number;
  refs: number;
}

const noop = () => undefined;

/** One version of a file. The mode is part of it: a file made private after it was cached is not served from memory. */
function versionOf(st: fs.Stats): string {
  return `${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}:${st.mode}`;
}

function statP(p: string): Promise<fs.Stats> {
  return new Promise((res, rej) => fs.stat(p, (e, st) => (e ? rej(e) : res(st))));
}

function readAll(fd: number, size: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafeSlow(size);
  return new Promise((res, rej) => {
    let off = 0;
    const step = () => {
      if (off >= size) return res(buf);
      fs.read(fd, buf, off, size - off, off, (e, n) => {
        if (e) return rej(e);
        if (n === 0) return rej(new Error('file shrank while reading'));
        off += n;
        step();
      });
    };
    step();
  });
}

export class FileCache {
  private readonly mem = new Map<string, MemEntry>();
  private readonly fds = new Map<string, FdEntry>();
  private readonly pending = new Map<string, Promise<FileRef>>();
  private used = 0;
  /** Disk loads done (for tests and metrics). */
  loads = 0;
  hits = 0;

  constructor(
    readonly budgetBytes: number,
    readonly fileMaxBytes: number,
  ) {}

  get bytes(): number {
    return this.used;
  }

  async acquire(realRoot: string, rel: string): Promise<FileRef> {
    const p = `${realRoot}/${rel}`;
    let st: fs.Stats;
    try {
      st = await statP(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENAMETOOLONG')
        throw new ConfinementError('not-found', 'File not found');
      throw new ConfinementError('access', 'Access violation');
    }
    if (!st.isFile()) throw new ConfinementError('not-file', 'Not a regular file');
    const ident = versionOf(st);
    const m = this.mem.get(p);
    if (m && m.ident === ident) {
      // LRU: most recently used goes last.
      this.mem.delete(p);
      this.mem.set(p, m);
      this.hits++;
      return { size: m.data.length, data: m.data, release: noop };
    }
    const f = this.fds.get(ident);
    if (f) {
      this.hits++;
      return this.fdRef(ident, f);
    }
    const pk = `${p}\0${ident}`;
    let load = this.pending.get(pk);
    if (!load) {
      load = this.load(realRoot, rel, p).finally(() => this.pending.delete(pk));
      this.pending.set(pk, load);
      return load;
    }
    // Joined an in-flight load: take our own reference.
    const ref = await load;
    if (ref.data) return { size: ref.size, data: ref.data, release: noop };
    return this.acquire(realRoot, rel);
  }

  private fdRef(ident: string, f: FdEntry): FileRef {
    f.refs++;
    let released = false;
    return {
      size: f.size,
      fd: f.fd,
      release: () => {
        if (released) return;
        released = true;
        if (--f.refs === 0) {
          this.fds.delete(ident);
          closeFd(f.fd);
        }
      },
    };
  }

  private async load(realRoot: string, rel: string, p: string): Promise<FileRef> {
    const { fd, stat } = await openConfined(realRoot, rel);
    const ident = versionOf(stat);
    this.loads++;
    if (stat.size <= this.fileMaxBytes && stat.size <= this.budgetBytes) {
      let data: Buffer;
      try {
        data = await readAll(fd, stat.size);
      } finally {
        closeFd(fd);
      }
      const old = this.mem.get(p);
      if (old) {
        this.mem.delete(p);
        this.used -= old.data.length;
      }
      while (this.used + data.length > this.budgetBytes && this.mem.size > 0) {
        const [k, v] = this.mem.entries().next().value as [string, MemEntry];
        this.mem.delete(k);
        this.used -= v.data.length;
      }
      this.mem.set(p, { ident, data });
      this.used += data.length;
      return { size: data.length, data, release: noop };
    }
    const existing = this.fds.get(ident);
    if (existing) {
      closeFd(fd);
      return this.fdRef(ident, existing);
    }
    const entry: FdEntry = { fd, size: stat.size, refs: 0 };
    this.fds.set(ident, entry);
    return this.fdRef(ident, entry);
  }
}
