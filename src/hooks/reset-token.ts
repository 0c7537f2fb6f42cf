/**
 * Who may run a host's reset hook over HTTP. The source address alone proved
 * nothing (a borrowed address, or any web page a browser on the host opens,
 * could reset it), so the iPXE script the host fetches carries a token in its
 * reset URL:
 *
 *   token = <expiry>.<HMAC-SHA256(key, "lanboot-reset" MAC address expiry), 128 bits>
 *
 * bound to the MAC, to the address the script was fetched from (the host's
 * own, or no token is issued) and to an expiry: the "boot id" is the issue
 * time, so a token stops working an hour after the boot that got it.
 *
 * The key is 32 random bytes in <state_dir>/reset.key, mode 0600, created at
 * the first start and read while still root. Kept on disk so that a machine
 * waiting in its menu across a restart of lanboot can still reset; if the
 * state dir cannot hold it, the key lives in memory (tokens then die with the
 * process) and the log says so.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, fchmodSync, fstatSync, mkdirSync, openSync, readSync, unlinkSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';

const KEY_BYTES = 32;
const MAC_HEX = 32; // 128 bits of the HMAC
export const RESET_TOKEN_TTL_MS = 60 * 60 * 1000;

export class ResetTokens {
  constructor(
    private readonly key: Buffer,
    private readonly ttlMs = RESET_TOKEN_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token for `mac` fetching from `address`, valid for ttl. */
  issue(mac: string, address: string): string {
    const expiry = Math.floor((this.now() + this.ttlMs) / 1000);
    return `${expiry}.${this.mac(mac, address, expiry)}`;
  }

  /** True if `token` was issued to `mac` at `address` and has not expired. */
  check(mac: string, address: string, token: string): boolean {
    const m = /^(\d{1,12})\.([0-9a-f]+)$/.exec(token);
    if (!m) return false;
    const expiry = Number(m[1]);
    if (expiry * 1000 < this.now() || expiry * 1000 > this.now() + this.ttlMs + 60_000) return false;
    const want = Buffer.from(this.mac(mac, address, expiry), 'latin1');
    const got = Buffer.from(m[2]!, 'latin1');
    return got.length === want.length && timingSafeEqual(got, want);
  }

  private mac(mac: string, address: string, expiry: number): string {
    return createHmac('sha256', this.key).update(`lanboot-reset\0${mac.toLowerCase()}\0${address}\0${expiry}`).digest('hex').slice(0, MAC_HEX);
  }
}

/** The key from <stateDir>/reset.key (created 0600 if missing), else a key in memory. */
export function loadResetKey(stateDir: string, log?: Logger): { key: Buffer; file?: string } {
  const file = join(stateDir, 'reset.key');
  try {
    mkdirSync(stateDir, { recursive: true });
    let fd: number;
    let created = false;
    try {
      fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      fd = openSync(file, constants.O_RDWR | constants.O_NOFOLLOW);
    }
    try {
      if (created) {
        const key = randomBytes(KEY_BYTES);
        try {
          if (writeSync(fd, key) !== KEY_BYTES) throw new Error(`${file}: short write`);
        } catch (e) {
          unlinkSync(file); // never leave a half-written key for the next start
          throw e;
        }
        return { key, file };
      }
      const st = fstatSync(fd);
      if (!st.isFile() || st.size !== KEY_BYTES) throw new Error(`${file}: not a ${KEY_BYTES}-byte key file`);
      if (st.mode & 0o077) {
        fchmodSync(fd, 0o600);
        log?.warn({ event: 'reset.key_mode', file, mode: (st.mode & 0o777).toString(8) }, `${file} was readable by others: set to 0600`);
      }
      const key = Buffer.alloc(KEY_BYTES);
      if (readSync(fd, key, 0, KEY_BYTES, 0) !== KEY_BYTES) throw new Error(`${file}: short read`);
      return { key };
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    log?.warn(
      { event: 'reset.key_memory', file, err: (e as Error).message },
      'reset key kept in memory: reset links in scripts fetched before a restart will be refused',
    );
    return { key: randomBytes(KEY_BYTES) };
  }
}
