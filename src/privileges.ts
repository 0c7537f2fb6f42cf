/**
 * Started as root (e.g. by OpenWrt procd or by hand), lanboot binds its
 * privileged sockets first (67, 69, 80, 4011, packet sockets) and then becomes
 * an ordinary user: the bound descriptors stay usable, but the process can no
 * longer bind new privileged ports, open raw sockets or regain root (the kernel
 * clears all capabilities when the uid leaves 0). Started as a non-root user
 * with ambient capabilities (the systemd unit) this is a no-op.
 */
import { chownSync, existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { logger, type Logger } from './log.js';

export interface DropResult {
  /** True when the uid/gid were changed. */
  dropped: boolean;
  uid: number;
  gid: number;
  /** Why nothing was done, when nothing was. */
  reason?: string;
}

export class PrivilegeError extends Error {}

interface Account {
  uid: number;
  gid: number;
}

function fromDb(file: string, name: string, idField: number, gidField?: number): Account | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length > idField) {
      const id = Number(f[idField]);
      const gid = gidField === undefined ? id : Number(f[gidField]);
      if (Number.isInteger(id) && Number.isInteger(gid)) return { uid: id, gid };
    }
  }
  return undefined;
}

/** getpwnam without a native addon: /etc/passwd first, then `id` (covers NSS sources). */
export function lookupUser(user: string): Account {
  if (/^\d+$/.test(user)) return { uid: Number(user), gid: Number(user) };
  const a = fromDb('/etc/passwd', user, 2, 3);
  if (a) return a;
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid };
  } catch {
    /* fall through */
  }
  throw new PrivilegeError(`user "${user}" does not exist (create it: useradd --system --no-create-home ${user})`);
}

export function lookupGroup(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const g = fromDb('/etc/group', group, 2);
  if (g) return g.uid;
  try {
    const line = execFileSync('getent', ['group', group], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const gid = Number(line.split(':')[2]);
    if (Number.isInteger(gid)) return gid;
  } catch {
    /* fall through */
  }
  throw new PrivilegeError(`group "${group}" does not exist`);
}

/** chown a path; a directory with everything below it (state dirs are small). */
function chownTree(path: string, uid: number, gid: number, depth = 0): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return; // never follow a link out of the state dir
  chownSync(path, uid, gid);
  if (st.isDirectory() && depth < 4) for (const e of readdirSync(path)) chownTree(join(path, e), uid, gid, depth + 1);
}

/**
 * Call after every socket is bound. `keepWritable`: the state dir, the lease
 * file and anything else the services write later; they are handed to the user.
 * Throws PrivilegeError when root cannot become the user (refuse to run as root
 * by accident rather than silently keep it).
 */
export function dropPrivileges(user: string, group: string | undefined, keepWritable: string[], log: Logger = logger('core')): DropResult {
  const uid0 = process.getuid?.() ?? -1;
  const gid0 = process.getgid?.() ?? -1;
  if (uid0 !== 0) {
    log.info({ event: 'privileges.keep', uid: uid0, gid: gid0 }, `not root (uid ${uid0}): nothing to drop`);
    return { dropped: false, uid: uid0, gid: gid0, reason: 'not root' };
  }
  const acct = lookupUser(user);
  const gid = group === undefined ? acct.gid : lookupGroup(group);
  if (acct.uid === 0) throw new PrivilegeError(`user "${user}" is root; choose an unprivileged user`);

  for (const p of keepWritable) {
    if (!existsSync(p)) {
      log.debug({ event: 'privileges.chown_skip', path: p }, 'not there yet');
      continue;
    }
    chownTree(p, acct.uid, gid);
  }

  // Order matters: supplementary groups and gid while we still may, uid last.
  process.setgroups!([gid]);
  process.setgid!(gid);
  process.setuid!(acct.uid);

  const ok =
    process.getuid!() === acct.uid &&
    process.geteuid!() === acct.uid &&
    process.getgid!() === gid &&
    process.getegid!() === gid &&
    process.getgroups!().every((g) => g === gid);
  let regained = false;
  try {
    process.setuid!(0);
    regained = true;
  } catch {
    /* expected: root is gone for good */
  }
  if (!ok || regained) throw new PrivilegeError(`dropping to ${user} did not stick (uid ${process.getuid!()}, gid ${process.getgid!()})`);
  log.info({ event: 'privileges.dropped', user, uid: acct.uid, gid, writable: keepWritable }, `now running as ${user}`);
  return { dropped: true, uid: acct.uid, gid };
}
