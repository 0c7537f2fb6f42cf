/**
 * TFTP names: bytes on the wire (latin1 here) become a relative path or are
 * refused. Opening is shared with HTTP (src/confined.ts).
 */
import { plainSegments } from '../confined.js';

export { ConfinementError, closeFd, isInside, openConfined, realDir, SEGMENT_MAX_BYTES } from '../confined.js';

export const NAME_MAX_BYTES = 1024;

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
  return plainSegments(s);
}
