/** RFC 764/1350 netascii: LF -> CR LF, CR -> CR NUL (and back for uploads). */
export function toNetascii(src: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < src.length; i++) if (src[i] === 0x0a || src[i] === 0x0d) extra++;
  if (extra === 0) return src;
  const out = Buffer.allocUnsafeSlow(src.length + extra);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x0a) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else if (c === 0x0d) {
      out[o++] = 0x0d;
      out[o++] = 0x00;
    } else out[o++] = c;
  }
  return out;
}

/** Streaming decoder for uploads: keeps a trailing CR across blocks. */
export class NetasciiDecoder {
  private pendingCr = false;
  push(chunk: Buffer): Buffer {
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let o = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.pendingCr) {
        this.pendingCr = false;
        if (c === 0x0a) {
          out[o++] = 0x0a;
          continue;
        }
        if (c === 0x00) {
          out[o++] = 0x0d;
          continue;
        }
        out[o++] = 0x0d;
      }
      if (c === 0x0d) this.pendingCr = true;
      else out[o++] = c;
    }
    return out.subarray(0, o);
  }
  end(): Buffer {
    if (!this.pendingCr) return Buffer.alloc(0);
    this.pendingCr = false;
    return Buffer.from([0x0d]);
  }
}
