/**
 * Root confinement for every file lanboot serves (TFTP and HTTP). A request
 * becomes plain path segments or is refused; after open, the descriptor's real
 * path (/proc/self/fd) must still be under the real root, so a symlink that
 * points outside is refused even if it is swapped in between checks.
 */
import fs from 'node:fs';
import path from 'node:path';

export const SEGMENT_MAX_BYTES = 255;

export type SegmentsResult = { ok: true; rel: string } | { ok: false; reason: 'dotdot' | 'empty' | 'too-long' };

/** `a\b/./c` -> `a/b/c`; `..` anywhere is refused (never resolved). Backslashes are WDS/Windows separators. */
export function plainSegments(s: string): SegmentsResult {
  const segs: string[] = [];
  for (const seg of s.replace(/\\/g, '/').split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') return { ok: false, reason: 'dotdot' };
    if (Buffer.byteLength(seg) > SEGMENT_MAX_BYTES) return { ok: false, reason: 'too-long' };
    segs.push(seg);
  }
  if (segs.length === 0) return { ok: false, reason: 'empty' };
  return { ok: true, rel: segs.join('/') };
}

export function isInside(realRoot: string, real: string): boolean {
  return real === realRoot || real.startsWith(realRoot.endsWith('/') ? realRoot : realRoot + '/');
}

export class ConfinementError extends Error {
  constructor(
    readonly code: 'not-found' | 'access' | 'not-file',
    message: string,
  ) {
    super(message);
  }
}

const O_READ = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY;

function openP(p: string, flags: number): Promise<number> {
  return new Promise((res, rej) => fs.open(p, flags, (e, fd) => (e ? rej(e) : res(fd))));
}
function fstatP(fd: number): Promise<fs.Stats> {
  return new Promise((res, rej) => fs.fstat(fd, (e, st) => (e ? rej(e) : res(st))));
}
function readlinkP(p: string): Promise<string> {
  return new Promise((res, rej) => fs.readlink(p, (e, s) => (e ? rej(e) : res(s))));
}

export function closeFd(fd: number): void {
  fs.close(fd, () => undefined);
}

/**
 * Root reads every file; a server running as root serves only what any local
 * user may read (a key or shadow copy left in the root stays private). As
 * another user the kernel already decides.
 */
export function servable(stat: fs.Stats): boolean {
  return process.geteuid?.() !== 0 || (stat.mode & fs.constants.S_IROTH) !== 0;
}

/** Open `rel` under `realRoot` read-only; verify it is a regular file really inside. */
export async function openConfined(realRoot: string, rel: string): Promise<{ fd: number; stat: fs.Stats }> {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted in the root must not block a pool thread.
    fd = await openP(path.join(realRoot, rel), O_READ);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENAMETOOLONG' || code === 'EISDIR')
      throw new ConfinementError('not-found', 'File not found');
    throw new ConfinementError('access', 'Access violation');
  }
  try {
    let real: string;
    try {
      real = await readlinkP(`/proc/self/fd/${fd}`);
    } catch {
      // No /proc (chroot): resolve the path instead (racier, still confined).
      real = await fs.promises.realpath(path.join(realRoot, rel));
    }
    if (!isInside(realRoot, real)) throw new ConfinementError('access', 'Access violation');
    const stat = await fstatP(fd);
    if (!stat.isFile()) throw new ConfinementError('not-file', 'Not a regular file');
    if (!servable(stat)) throw new ConfinementError('access', 'Access violation');
    return { fd, stat };
  } catch (e) {
    closeFd(fd);
    if (e instanceof ConfinementError) throw e;
    throw new ConfinementError('access', 'Access violation');
  }
}

/** Real path of a root directory (resolved once at start; the root itself may be a symlink). */
export function realDir(dir: string): string {
  const r = fs.realpathSync(dir);
  if (!fs.statSync(r).isDirectory()) throw new Error(`${dir} is not a directory`);
  return r;
}
