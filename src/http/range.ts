/**
 * The Range header (RFC 9110 section 14.2), single range only: iPXE asks for
 * one range at a time. A multi-range request is answered with the whole file
 * (allowed: a server may ignore Range), never with multipart/byteranges.
 */
export interface ByteRange {
  start: number;
  end: number; // inclusive
}

/**
 * undefined = ignore the header (not bytes=, malformed, several ranges) and
 * send 200; 'unsatisfiable' = 416; otherwise the clamped inclusive range.
 */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | undefined {
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return undefined;
  const spec = m[1]!.trim();
  if (spec.includes(',')) return undefined;
  const r = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
  if (!r) return undefined;
  const [, a, b] = r;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    // suffix: the last N bytes
    const n = Number(b);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  let end = b === '' ? size - 1 : Number(b);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return undefined;
  if (b !== '' && end < start) return undefined; // invalid: ignore, RFC 9110 14.1.1
  if (start >= size) return 'unsatisfiable';
  if (end >= size) end = size - 1;
  return { start, end };
}
