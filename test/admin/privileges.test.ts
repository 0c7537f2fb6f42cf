import { describe, expect, it, vi } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
      // The reset hook keeps no way back: empty bounding set, no_new_privs (set-uid programs grant nothing).
      expect(r.hook).toEqual({ ok: true, capBnd: '0000000000000000', capPrm: '0000000000000000', noNewPrivs: '1' });
      expect(r.suidEuid).toBe(String(nobody.uid)); // a set-uid root program runs as the user
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

/** `lanboot start` as root with `user: nobody`; resolves once it serves, with the process to stop. */
function startAs(config: string): Promise<{ p: ChildProcess; log: () => string }> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli.ts'), 'start', '--config', config], { cwd: root });
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      if (/Try:/.test(out)) return resolve({ p, log: () => out });
      if (p.exitCode !== null || Date.now() - t0 > 20_000) {
        p.kill('SIGKILL');
        return reject(new Error(`lanboot did not start: ${out}`));
      }
      setTimeout(tick, 50);
    };
    tick();
  });
}

describe('privilege drop: what is handed to the user', () => {
  it.skipIf(!isRoot)('chowns only what lanboot created, never an existing tree (a lease_file in /var/lib must not hand /var/lib over)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-chown-'));
    chmodSync(dir, 0o755);
    // Stands for /var/lib: an existing directory with other software's files.
    const varlib = join(dir, 'varlib');
    mkdirSync(join(varlib, 'dpkg'), { recursive: true });
    writeFileSync(join(varlib, 'dpkg', 'status'), 'not lanboot\n', { mode: 0o644 });
    const port = 20000 + Math.floor(Math.random() * 20000);
    const cfg = join(dir, 'lanboot.yaml');
    writeFileSync(
      cfg,
      `user: nobody
state_dir: ./state/lanboot
dhcp:
  address: 127.0.0.1
  port: ${port}
  lease_file: ${varlib}/leases.journal
  subnets: [{ subnet: 127.0.0.0/8, range: 127.77.0.100-127.77.0.199 }]
`,
    );
    let child: ChildProcess | undefined;
    try {
      const s = await startAs(cfg);
      child = s.p;
      const owner = (p: string) => statSync(p).uid;
      expect(owner(varlib), s.log()).toBe(0);
      expect(owner(join(varlib, 'dpkg'))).toBe(0);
      expect(owner(join(varlib, 'dpkg', 'status'))).toBe(0);
      // What lanboot made itself is the user's: the journal, and state dirs it had to create.
      expect(owner(join(varlib, 'leases.journal'))).toBe(nobody.uid);
      expect(owner(join(dir, 'state'))).toBe(nobody.uid);
      expect(owner(join(dir, 'state', 'lanboot'))).toBe(nobody.uid);
      expect(owner(dir)).toBe(0);
      // And it says what it could not do: compaction needs the journal's directory writable.
      // Log lines reach stdout a loop turn after the banner on stderr: wait for it, do not race it.
      await vi.waitFor(() => expect(s.log()).toMatch(/"event":"privileges\.not_writable".*varlib/), { timeout: 5000 });
    } finally {
      child?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
