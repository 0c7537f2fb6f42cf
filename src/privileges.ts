/**
 * Started as root (e.g. by OpenWrt procd or by hand), lanboot binds its
 * privileged sockets first (67, 69, 80, 4011, packet sockets) and then becomes
 * an ordinary user: the bound descriptors stay usable, but the process can no
 * longer bind new privileged ports, open raw sockets or regain root (the kernel
 * clears all capabilities when the uid leaves 0; the bounding set is emptied and
 * no_new_privs set, so no child regains them either). Started as a non-root user
 * with ambient capabilities (the systemd unit) this is a no-op.
 */
import { accessSync, chownSync, constants as fsc, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { logger, type Logger } from './log.js';
import { loadNative } from './native.js';

interface CapsAddon {
  /** prctl(PR_CAPBSET_DROP) for every capability the kernel knows; returns that count. */
  dropBoundingSet(): number;
  setNoNewPrivs(): void;
}

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

/**
 * mkdir -p that says which directories it made (outermost first), so only
 * those are handed to the service user: an existing parent such as /var/lib
 * is never lanboot's to give away.
 */
export function createDirs(dir: string): string[] {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      lstatSync(d);
      break;
    } catch {
      missing.unshift(d);
    }
    if (dirname(d) === d) break;
  }
  const created: string[] = [];
  for (const d of missing) {
    try {
      mkdirSync(d);
      created.push(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return created;
}

/**
 * Call after every socket is bound. `created`: the files and directories
 * lanboot itself made (state dir, lease journal); each one, and nothing below
 * or above it, is handed to the user. `needWritable`: directories the services
 * write into later; one the user cannot write is logged with the fix, never
 * chowned. Throws PrivilegeError when root cannot become the user (refuse to
 * run as root by accident rather than silently keep it).
 */
export function dropPrivileges(
  user: string,
  group: string | undefined,
  created: string[],
  log: Logger = logger('core'),
  needWritable: string[] = [],
): DropResult {
  const uid0 = process.getuid?.() ?? -1;
  const gid0 = process.getgid?.() ?? -1;
  if (uid0 !== 0) {
    log.info({ event: 'privileges.keep', uid: uid0, gid: gid0 }, `not root (uid ${uid0}): nothing to drop`);
    return { dropped: false, uid: uid0, gid: gid0, reason: 'not root' };
  }
  const acct = lookupUser(user);
  const gid = group === undefined ? acct.gid : lookupGroup(group);
  if (acct.uid === 0) throw new PrivilegeError(`user "${user}" is root; choose an unprivileged user`);

  for (const p of created) {
    let link: boolean;
    try {
      link = lstatSync(p).isSymbolicLink();
    } catch {
      log.debug({ event: 'privileges.chown_skip', path: p }, 'not there any more');
      continue;
    }
    if (!link) chownSync(p, acct.uid, gid); // a link swapped in since we made it is not followed
  }

  // Children (the reset hook) must not regain root through a set-uid or file-capability
  // program: empty the bounding set while CAP_SETPCAP is still ours, then no_new_privs.
  // Per-thread, inherited on fork: this is the loop thread, which starts child processes.
  let caps: CapsAddon;
  try {
    caps = loadNative<CapsAddon>('lanboot_caps');
  } catch (e) {
    throw new PrivilegeError(`cannot drop the capability bounding set: ${(e as Error).message}`);
  }
  const known = caps.dropBoundingSet();
  caps.setNoNewPrivs();

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
  log.info({ event: 'privileges.dropped', user, uid: acct.uid, gid, chowned: created, bounding_set_dropped: known }, `now running as ${user}`);
  // access() checks the real uid: now the user's own answer.
  for (const d of new Set(needWritable)) {
    try {
      accessSync(d, fsc.W_OK | fsc.X_OK);
    } catch {
      log.warn(
        { event: 'privileges.not_writable', path: d, user },
        `${d} is not writable by ${user} and lanboot did not create it, so it was left alone; give ${user} a directory of its own there (mkdir ${d}/lanboot && chown ${user} ${d}/lanboot) or chown ${d} yourself`,
      );
    }
  }
  return { dropped: true, uid: acct.uid, gid };
}
