/**
 * Where a WRQ may write: a name under the upload directory (never outside,
 * never over an existing file unless overwrite is on), written to a
 * temporary file beside it and moved into place only once complete.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ERR_ACCESS, ERR_FILE_EXISTS, ERR_NOT_FOUND, ERR_UNDEFINED } from '../codec/tftp.js';
import { isInside, sanitizeName } from './paths.js';
import type { Refusal } from './sources.js';

export interface UploadTarget {
  /** Temporary file, created O_EXCL in the target's directory. */
  tmpPath: string;
  fd: number;
  /** Moves the temp file into place; rejects with a code when it may not. */
  commit(): Promise<void>;
  discard(): void;
}

type Refused = { ok: false; refusal: Refusal };
export type Checked = { ok: true; rel: string; finalPath: string } | Refused;
export type Prepared = { ok: true; target: UploadTarget; rel: string } | Refused;

function refuse(code: number, message: string, reason: string, file: string): Refused {
  return { ok: false, refusal: { code, message, reason, file } };
}

/** The name checks that come before option negotiation (the size limit is an option). */
export async function checkUpload(realUpload: string | undefined, filename: string, overwrite: boolean): Promise<Checked> {
  const dir = realUpload;
  if (!dir) return refuse(ERR_ACCESS, 'Uploads are disabled', 'write-disabled', filename);
  const name = sanitizeName(filename, dir);
  if (!name.ok) return refuse(ERR_ACCESS, 'Access violation', `path-${name.reason}`, filename);
  const rel = name.rel;
  const target = path.join(dir, rel);
  let realParent: string;
  try {
    realParent = await fs.promises.realpath(path.dirname(target));
  } catch {
    return refuse(ERR_NOT_FOUND, 'Directory not found', 'upload-dir-missing', rel);
  }
  if (!isInside(dir, realParent)) return refuse(ERR_ACCESS, 'Access violation', 'upload-outside', rel);
  const finalPath = path.join(realParent, path.basename(target));
  try {
    const st = await fs.promises.lstat(finalPath);
    if (!overwrite) return refuse(ERR_FILE_EXISTS, 'File already exists', 'exists', rel);
    if (!st.isFile()) return refuse(ERR_ACCESS, 'Access violation', 'not-file', rel);
  } catch {
    /* absent: fine */
  }
  return { ok: true, rel, finalPath };
}

/** Create the temporary file for `finalPath`; commit() links (or, with overwrite, renames) it into place. */
export function createUpload(finalPath: string, rel: string, overwrite: boolean): Prepared {
  const tmpPath = path.join(path.dirname(finalPath), `.${path.basename(finalPath)}.lanboot-${crypto.randomBytes(6).toString('hex')}`);
  let fd: number;
  try {
    fd = fs.openSync(tmpPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o644);
  } catch {
    return refuse(ERR_ACCESS, 'Cannot create file', 'create-failed', rel);
  }
  let discarded = false;
  const target: UploadTarget = {
    tmpPath,
    fd,
    commit: async () => {
      try {
        if (overwrite) await fs.promises.rename(tmpPath, finalPath);
        else {
          // link() fails if the name appeared meanwhile: never overwrite.
          await fs.promises.link(tmpPath, finalPath);
          await fs.promises.unlink(tmpPath);
        }
      } catch (e) {
        const exists = (e as NodeJS.ErrnoException).code === 'EEXIST';
        const err = new Error(exists ? 'File already exists' : 'Cannot store file') as Error & { tftpCode?: number };
        err.tftpCode = exists ? ERR_FILE_EXISTS : ERR_UNDEFINED;
        throw err;
      } finally {
        discarded = true;
      }
    },
    discard: () => {
      if (discarded) {
        fs.unlink(tmpPath, () => undefined);
        return;
      }
      discarded = true;
      fs.unlink(tmpPath, () => undefined);
    },
  };
  return { ok: true, target, rel };
}
