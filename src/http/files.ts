/**
 * Static files under http.root, confined like the TFTP root: the URL path
 * becomes plain segments or is refused (no "..", no NUL/control characters),
 * and after open the descriptor's real path (/proc/self/fd) must still lie
 * under the real root, so a symlink pointing outside is refused even if it is
 * swapped in between checks.
 */
import path from 'node:path';
import { plainSegments } from '../confined.js';

export { ConfinementError, closeFd, openConfined, realDir as realRoot } from '../confined.js';

export type PathResult = { ok: true; rel: string } | { ok: false; reason: 'dotdot' | 'control-char' | 'empty' | 'too-long' };

export function sanitizePath(p: string): PathResult {
  if (p.length > 4096) return { ok: false, reason: 'too-long' };
  if (/[\u0000-\u001f\u007f]/.test(p)) return { ok: false, reason: 'control-char' };
  return plainSegments(p);
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
