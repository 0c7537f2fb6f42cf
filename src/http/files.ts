/**
 * Static files under http.root, confined like the TFTP root: the URL path
 * becomes plain segments or is refused (no "..", no NUL/control characters),
 * and after open the descriptor's real path (/proc/self/fd) must still lie
 * under the real root, so a symlink pointing outside is refused even if it is
 * swapped in between checks.
 */
import fs from 'node:fs';
import path from 'node:path';

export type PathResult = { ok: true; rel: string } | { ok: false; reason: 'dotdot' | 'control-char' | 'empty' | 'too-long' };

export function sanitizePath(p: string): PathResult {
  if (p.length > 4096) return { ok: false, reason: 'too-long' };
  if (/[\u0000-\u001f\u007f]/.test(p)) return { ok: false, reason: 'control-char' };
  const segs: string[] = [];
  for (const seg of p.replace(/\\/g, '/').split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') return { ok: false, reason: 'dotdot' };
    if (Buffer.byteLength(seg) > 255) return { ok: false, reason: 'too-long' };
    segs.push(seg);
  }
  if (segs.length === 0) return { ok: false, reason: 'empty' };
  return { ok: true, rel: segs.join('/') };
}

export class ConfinementError extends Error {
  constructor(
    readonly code: 'not-found' | 'access' | 'not-file',
    message: string,
  ) {
    super(message);
  }
}

export function realRoot(dir: string): string {
  const r = fs.realpathSync(dir);
  if (!fs.statSync(r).isDirectory()) throw new Error(`${dir} is not a directory`);
  return r;
}

function isInside(root: string, real: string): boolean {
  return real === root || real.startsWith(root.endsWith('/') ? root : root + '/');
}

export function closeFd(fd: number): void {
  fs.close(fd, () => undefined);
}

const O_READ = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY;

/** Open `rel` under the real root read-only; it must be a regular file really inside. */
export async function openConfined(root: string, rel: string): Promise<{ fd: number; stat: fs.Stats }> {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted in the root must not block a pool thread.
    fd = await new Promise<number>((res, rej) => fs.open(path.join(root, rel), O_READ, (e, n) => (e ? rej(e) : res(n))));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENAMETOOLONG' || code === 'EISDIR')
      throw new ConfinementError('not-found', 'not found');
    throw new ConfinementError('access', 'access denied');
  }
  try {
    const real = fs.readlinkSync(`/proc/self/fd/${fd}`);
    if (!isInside(root, real)) throw new ConfinementError('access', 'outside the root');
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new ConfinementError('not-file', 'not a regular file');
    return { fd, stat };
  } catch (e) {
    closeFd(fd);
    if (e instanceof ConfinementError) throw e;
    throw new ConfinementError('access', 'access denied');
  }
}

const TYPES: Record<string, string> = {
  '.ipxe': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.cfg': 'text/plain; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
  '.iso': 'application/x-iso9660-image',
  '.efi': 'application/efi',
  '.gz': 'application/gzip',
  '.xz': 'application/x-xz',
  '.zst': 'application/zstd',
  '.tar': 'application/x-tar',
};

export function contentTypeOf(rel: string): string {
  return TYPES[path.extname(rel).toLowerCase()] ?? 'application/octet-stream';
}
