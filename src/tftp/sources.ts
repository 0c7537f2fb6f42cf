/**
 * What an RRQ reads: a file generated per client (the boot plan's iPXE
 * script), else a file under the root (confined, cached or shared by
 * descriptor), converted for netascii (files: one shared copy per version,
 * from the cache). The answer is either a ReadSource the transfer releases
 * when it ends, or the TFTP error to refuse with.
 */
import { ERR_ACCESS, ERR_NOT_FOUND, ERR_UNDEFINED } from '../codec/tftp.js';
import type { GeneratedFile } from '../plan/types.js';
import type { FileCache } from './cache.js';
import { toNetascii } from './netascii.js';
import { ConfinementError, sanitizeName } from './paths.js';

/** Bytes of one read: in memory (`data`) or read with pread from `fd`; release() once the transfer ends. */
export interface ReadSource {
  size: number;
  data?: Buffer;
  fd?: number;
  release(): void;
}

export interface SourceClient {
  address: string;
  port: number;
  mac?: string;
}

export type Generate = (path: string, client: SourceClient) => Promise<GeneratedFile | undefined> | GeneratedFile | undefined;

/** A refusal: the TFTP error code and message for the client, and a short reason for counters and logs. */
export interface Refusal {
  code: number;
  message: string;
  reason: string;
  file: string;
}

export type Resolved =
  | { ok: true; src: ReadSource; rel: string; generated: boolean; mac?: string }
  | { ok: false; refusal: Refusal };

export class ReadSources {
  constructor(
    private readonly cache: FileCache,
    private readonly generate?: Generate,
  ) {}

  async resolve(realRoot: string, filename: string, mode: 'octet' | 'netascii', client: SourceClient): Promise<Resolved> {
    const name = sanitizeName(filename, realRoot);
    if (!name.ok) return refuse(ERR_ACCESS, 'Access violation', `path-${name.reason}`, filename);
    const rel = name.rel;
    if (this.generate) {
      const g = await this.generate(rel, client);
      if (g) {
        // Made for this client alone: converted here, per request.
        let body = typeof g.body === 'string' ? Buffer.from(g.body) : g.body;
        if (mode === 'netascii') body = toNetascii(body);
        const src: ReadSource = { size: body.length, data: body, release: () => undefined };
        return { ok: true, src, rel, generated: true, mac: g.mac };
      }
    }
    let src: ReadSource;
    try {
      src = await this.cache.acquire(realRoot, rel, mode);
    } catch (e) {
      if (!(e instanceof ConfinementError)) throw e;
      if (e.code === 'not-found') return refuse(ERR_NOT_FOUND, 'File not found', 'not-found', rel);
      return refuse(ERR_ACCESS, 'Access violation', e.code, rel);
    }
    if (mode === 'netascii' && !src.data) {
      src.release();
      return refuse(ERR_UNDEFINED, 'netascii not supported for a file this large', 'netascii-size', rel);
    }
    return { ok: true, src, rel, generated: false };
  }
}

function refuse(code: number, message: string, reason: string, file: string): Resolved {
  return { ok: false, refusal: { code, message, reason, file } };
}
