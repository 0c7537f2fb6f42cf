/**
 * Root confinement. A requested name becomes a relative path of plain
 * segments or is refused; after open, the descriptor's real path (via
 * /proc/self/fd) must still be under the real root, so symlinks that point
 * outside are refused even if swapped in between checks.
 */
import fs from 'node:fs';
import path from 'node:path';

export const NAME_MAX_BYTES = 1024;
export const SEGMENT_MAX_BYTES = 255;

export type SanitizeResult = { ok: true; rel: string } | { ok: false; reason: string };

/**
 * `name` is the wire name as latin1 (one char per byte). Backslashes become
 * `/` (WDS), leading `/` are stripped (tftp-hpa -s style), and a name that
 * spells out the root itself is accepted relative to it.
 */
export function sanitizeName(name: string, rootAbs?: string): SanitizeResult {
  const bytes = Buffer.from(name, 'latin1');
  if (bytes.length > NAME_MAX_BYTES) return { ok: false, reason: 'too-long' };
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c < 0x20 || c === 0x7f) return { ok: false, reason: 'control-char' };
  }
  let s = bytes.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(bytes)) return { ok: false, reason: 'bad-utf8' };
  s = s.replace(/\\/g, '/');
  if (rootAbs && rootAbs !== '/' && (s + '/').startsWith(rootAbs.replace(/\/+$/, '') + '/')) {
    s = s.slice(rootAbs.replace(/\/+$/, '').length);
  }
  const segs: string[] = [];
  for (const seg of s.split('/')) {
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

function openP(p: string, flags: number, mode?: number): Promise<number> {
  return new Promise((res, rej) => fs.open(p, flags, mode, (e, fd) => (e ? rej(e) : res(fd))));
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

/** Open `rel` under `realRoot` read-only; verify it is a regular file really inside. */
export async function openConfined(realRoot: string, rel: string): Promise<{ fd: number; stat: fs.Stats }> {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted in the root must not block a pool thread.
    fd = await openP(path.join(realRoot, rel), O_READ);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENAMETOOLONG')
      throw new ConfinementError('not-found', 'File not found');
    throw new ConfinementError('access', 'Access violation');
  }
  try {
    let real: string;
    try {
      real = await readlinkP(`/proc/self/fd/${fd}`);
    } catch {
      // No /proc (chroot): fall back to resolving the path (racier, still confined).
      real = await fs.promises.realpath(path.join(realRoot, rel));
    }
    if (!isInside(realRoot, real)) throw new ConfinementError('access', 'Access violation');
    const stat = await fstatP(fd);
    if (!stat.isFile()) throw new ConfinementError('not-file', 'Not a regular file');
    return { fd, stat };
  } catch (e) {
    closeFd(fd);
    if (e instanceof ConfinementError) throw e;
    throw new ConfinementError('access', 'Access violation');
  }
}

/** Real path of a directory (resolved once at start; the root itself may be a symlink). */
export function realDir(dir: string): string {
  const r = fs.realpathSync(dir);
  if (!fs.statSync(r).isDirectory()) throw new Error(`${dir} is not a directory`);
  return r;
}
