import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { lookupUser, lookupGroup } from '../../src/privileges.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./fixtures/drop-child.ts', import.meta.url));
const isRoot = process.getuid?.() === 0;
const nobody = lookupUser('nobody');

async function runChild(args: string[], opts: { uid?: number; gid?: number } = {}) {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', child, ...args], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    timeout: 30_000,
    ...opts,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('dropPrivileges', () => {
  it('looks users and groups up like getpwnam', () => {
    expect(lookupUser('root')).toEqual({ uid: 0, gid: 0 });
    expect(lookupGroup('root')).toBe(0);
    expect(() => lookupUser('no-such-user-lanboot')).toThrow(/does not exist/);
  });

  it.skipIf(!isRoot)('root -> nobody after binding: uid changes, old sockets work, new privileged binds fail, state stays writable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-state-'));
    chmodSync(dir, 0o700); // root-only until chowned
    const portA = 600 + Math.floor(Math.random() * 300);
    try {
      const r = await runChild(['nobody', dir, String(portA), String(portA + 1)]);
      expect(r.error).toBeUndefined();
      expect(r.before).toBe(0);
      expect(r.result).toMatchObject({ dropped: true, uid: nobody.uid, gid: nobody.gid });
      expect(r.after).toEqual({ uid: nobody.uid, euid: nobody.uid, gid: nobody.gid, groups: [nobody.gid] });
      expect(r.leaseOwner).toBe(nobody.uid);
      expect(r.writeOk).toBe(true);
      expect(r.newPrivilegedBind).toBe('EACCES');
      expect(r.oldSocket).toBe('hello from the bound socket');
      expect(r.oldUdp).toBe('ping');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!isRoot)('not root: a no-op that says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-state-'));
    chmodSync(dir, 0o777);
    try {
      const port = 20000 + Math.floor(Math.random() * 20000);
      const r = await runChild(['nobody', dir, String(port), String(port + 1)], { uid: nobody.uid, gid: nobody.gid });
      expect(r.result).toEqual({ dropped: false, uid: nobody.uid, gid: nobody.gid, reason: 'not root' });
      expect(r.newPrivilegedBind).toBe('ok'); // unprivileged port: nothing changed
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
