/**
 * Boot-image bytes for RPL loads. Files are read once and cached while their
 * size and mtime stay the same; a session takes a snapshot (slices of the
 * cached Buffer) at FIND time, so a file replaced mid-load does not mix images.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { RplFile, RplImage } from '../config/types.js';

/** Real-mode memory a ROM may load into (docs/rpl.md §7): above the IVT/BIOS data area, below video memory. */
export const MEM_LOW = 0x500;
export const MEM_HIGH = 0xa0000;

export interface ImageSource {
  /** The bytes of one RplFile (offset/length applied). Throws on a missing or short file. */
  read(file: RplFile): Buffer;
}

export class FileImageStore implements ImageSource {
  private cache = new Map<string, { size: number; mtimeMs: number; data: Buffer }>();

  constructor(
    readonly root: string,
    private readonly maxEntries = 32,
  ) {}

  resolve(path: string): string {
    return isAbsolute(path) ? path : resolve(this.root, path);
  }

  private whole(path: string): Buffer {
    const abs = this.resolve(path);
    const st = statSync(abs);
    if (!st.isFile()) throw new Error(`${abs}: not a regular file`);
    const hit = this.cache.get(abs);
    if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.data;
    const data = readFileSync(abs);
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(abs, { size: st.size, mtimeMs: st.mtimeMs, data });
    return data;
  }

  read(file: RplFile): Buffer {
    const data = this.whole(file.path);
    if (file.offset > data.length) {
      throw new Error(`${file.path}: offset ${file.offset} is past the end (${data.length} bytes)`);
    }
    const end = file.length === undefined ? data.length : file.offset + file.length;
    if (end > data.length) {
      throw new Error(`${file.path}: offset ${file.offset} + length ${file.length} is past the end (${data.length} bytes)`);
    }
    return data.subarray(file.offset, end);
  }
}

const hex = (n: number) => '0x' + n.toString(16);

/**
 * Memory-layout warnings for an image whose file sizes are known (docs/rpl.md §7): each
 * file must stay inside 0x500..0xA0000 and, when the ROM reported its free
 * memory, below that; files must not overlap; execute should lie inside a file.
 */
export function imageWarnings(image: RplImage, sizes: number[], memoryKiB?: number): string[] {
  const out: string[] = [];
  const limit = memoryKiB !== undefined && memoryKiB > 0 ? Math.min(MEM_HIGH, memoryKiB * 1024) : MEM_HIGH;
  const ranges: Array<[number, number, string]> = [];
  image.files.forEach((f, i) => {
    const size = sizes[i] ?? 0;
    const end = f.load + size;
    if (f.load < MEM_LOW) out.push(`${f.path}: load address ${hex(f.load)} is below ${hex(MEM_LOW)} (interrupt table / BIOS data)`);
    if (end > MEM_HIGH) out.push(`${f.path}: ends at ${hex(end)}, past ${hex(MEM_HIGH)} (top of base memory)`);
    else if (end > limit) out.push(`${f.path}: ends at ${hex(end)}, past the client's reported free memory (${memoryKiB} KiB = ${hex(limit)})`);
    for (const [a, b, p] of ranges) if (f.load < b && a < end) out.push(`${f.path}: overlaps ${p}`);
    ranges.push([f.load, end, f.path]);
  });
  if (image.files.length && !ranges.some(([a, b]) => image.execute >= a && image.execute < b)) {
    out.push(`execute address ${hex(image.execute)} is not inside any loaded file`);
  }
  return out;
}

/** Config-time check (for `lanboot check`): reads file sizes and returns warnings. */
export function checkImage(image: RplImage, root: string): string[] {
  const store = new FileImageStore(root);
  const sizes: number[] = [];
  const out: string[] = [];
  for (const f of image.files) {
    try {
      sizes.push(store.read(f).length);
    } catch (e) {
      sizes.push(0);
      out.push((e as Error).message);
    }
  }
  return [...out, ...imageWarnings(image, sizes)];
}
