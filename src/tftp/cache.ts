/**
 * Shared file access for a boot storm: small files live in memory (LRU by
 * bytes, keyed by path and validated by dev/ino/mtime/size on every request),
 * big files share one descriptor per file version. Concurrent misses for the
 * same file wait on one load, so 200 clients cost one read from disk. A
 * netascii read gets the converted copy of that version: one per version
 * while any transfer uses it, kept in the LRU like the file itself.
 */
import fs from 'node:fs';
import { toNetascii } from './netascii.js';
import { ConfinementError, closeFd, openConfined } from './paths.js';

export interface FileRef {
  /** Which version of the file (dev, inode, mtime, size, mode). */
  version: string;
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

interface AsciiEntry {
  data: Buffer;
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
  /** netascii copies in use, by file version: shared even when the LRU has let them go. */
  private readonly ascii = new Map<string, AsciiEntry>();
  private used = 0;
  /** Disk loads done (for tests and metrics). */
  loads = 0;
  hits = 0;
  /** netascii conversions done. */
  conversions = 0;

  constructor(
    readonly budgetBytes: number,
    readonly fileMaxBytes: number,
  ) {}

  get bytes(): number {
    return this.used;
  }

  /**
   * The file for a read. netascii: the converted bytes, or the octet FileRef
   * without `data` when the file is too large to keep in memory (the caller
   * refuses that).
   */
  async acquire(realRoot: string, rel: string, mode: 'octet' | 'netascii' = 'octet'): Promise<FileRef> {
    const ref = await this.acquireOctet(realRoot, rel);
    if (mode === 'octet' || !ref.data) return ref;
    return this.netascii(`${realRoot}/${rel}\0netascii`, ref, ref.data);
  }

  /** The netascii copy of `ref`'s version: in use, else in the LRU, else converted once. */
  private netascii(key: string, ref: FileRef, octet: Buffer): FileRef {
    const version = ref.version;
    ref.release();
    let a = this.ascii.get(version);
    if (!a) {
      const m = this.mem.get(key);
      let data: Buffer;
      if (m && m.ident === version) {
        this.touch(key, m);
        this.hits++;
        data = m.data;
      } else {
        data = toNetascii(octet);
        this.conversions++;
        // Text without CR or LF converts to itself: nothing more to keep.
        if (data !== octet) this.remember(key, version, data);
      }
      a = { data, refs: 0 };
      this.ascii.set(version, a);
    }
    a.refs++;
    const entry = a;
    let released = false;
    return {
      version,
      size: entry.data.length,
      data: entry.data,
      release: () => {
        if (released) return;
        released = true;
        if (--entry.refs === 0 && this.ascii.get(version) === entry) this.ascii.delete(version);
      },
    };
  }

  private touch(key: string, m: MemEntry): void {
    // LRU: most recently used goes last.
    this.mem.delete(key);
    this.mem.set(key, m);
  }

  /** Keep `data` in the LRU under `key`, evicting the least recently used past the budget. */
  private remember(key: string, ident: string, data: Buffer): void {
    if (data.length > this.budgetBytes) return;
    const old = this.mem.get(key);
    if (old) {
      this.mem.delete(key);
      this.used -= old.data.length;
    }
    while (this.used + data.length > this.budgetBytes && this.mem.size > 0) {
      const [k, v] = this.mem.entries().next().value as [string, MemEntry];
      this.mem.delete(k);
      this.used -= v.data.length;
    }
    this.mem.set(key, { ident, data });
    this.used += data.length;
  }

  private async acquireOctet(realRoot: string, rel: string): Promise<FileRef> {
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
      this.touch(p, m);
      this.hits++;
      return { version: ident, size: m.data.length, data: m.data, release: noop };
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
    if (ref.data) return { version: ref.version, size: ref.size, data: ref.data, release: noop };
    return this.acquireOctet(realRoot, rel);
  }

  private fdRef(ident: string, f: FdEntry): FileRef {
    f.refs++;
    let released = false;
    return {
      version: ident,
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
      this.remember(p, ident, data);
      return { version: ident, size: data.length, data, release: noop };
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
