import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NetnsScope, nsExec, nsExecOk, waitForOutput, withNetns } from './netns.js';

const namespaces = (): string[] =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter(Boolean);
const linkExists = (name: string): boolean => existsSync(`/sys/class/net/${name}`);
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('NetnsScope', () => {
  it('builds namespaces, a veth pair with addresses and MTU, and runs commands inside', async () => {
    await withNetns(async (net) => {
      const ns1 = await net.createNetns();
      const ns2 = await net.createNetns('lb-x');
      expect(ns1).toMatch(/^lb-[0-9a-f]{6}$/);
      expect(ns2).toMatch(/^lb-x[0-9a-f]{6}$/);
      const l = await net.addVethPair(ns1, ns2, { addrA: '10.250.1.1/30', addrB: '10.250.1.2/30', mtu: 1280, macB: '02:00:00:00:be:ef' });
      expect(l.macB).toBe('02:00:00:00:be:ef');
      expect(l.a.length).toBeLessThanOrEqual(15);
      expect(await nsExecOk(ns1, 'cat', [`/sys/class/net/${l.a}/mtu`])).toBe('1280\n');
      expect((await nsExecOk(ns1, 'ip', ['-br', 'link', 'show', 'lo'])).includes('UP')).toBe(true);
      const ping = await nsExec(ns1, 'ping', ['-c1', '-W2', '10.250.1.2']);
      expect(ping.code, ping.stdout + ping.stderr).toBe(0);
      // Not visible from the root namespace.
      expect(linkExists(l.a)).toBe(false);
      const bad = await nsExec(ns1, 'sh', ['-c', 'echo oops >&2; exit 3']);
      expect(bad).toEqual({ stdout: '', stderr: 'oops\n', code: 3 });
      await expect(nsExecOk(ns1, 'false')).rejects.toThrow(/failed \(1\)/);
    });
  });

  it('cleanup() removes namespaces, root-side links and every process, also grandchildren; twice is fine', async () => {
    const net = new NetnsScope();
    const ns = await net.createNetns();
    const l = await net.addVethPair(null, ns);
    expect(linkExists(l.a)).toBe(true);
    const child = net.spawn(ns, 'sh', ['-c', 'sleep 300 & echo grandchild $!; wait']);
    const line = await waitForOutput(child, /^grandchild \d+/);
    const grandchild = Number(line.split(' ')[1]);
    expect(alive(grandchild)).toBe(true);
    expect(namespaces()).toContain(ns);

    await net.cleanup();
    expect(namespaces()).not.toContain(ns);
    expect(linkExists(l.a)).toBe(false);
    expect(child.exitCode !== null || child.signalCode !== null).toBe(true);
    // The grandchild was killed with its namespace.
    for (let i = 0; i < 100 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(grandchild)).toBe(false);
    await net.cleanup();
  });

  it('withNetns() cleans up when the callback throws', async () => {
    let made = '';
    await expect(
      withNetns(async (net) => {
        made = await net.createNetns();
        await net.addVethPair(null, made);
        throw new Error('test failed midway');
      }),
    ).rejects.toThrow('test failed midway');
    expect(made).not.toBe('');
    expect(namespaces()).not.toContain(made);
  });

  it('rejects interface names that would escape the lb- prefix or 15 chars', async () => {
    await withNetns(async (net) => {
      const ns = await net.createNetns();
      await expect(net.addVethPair(null, ns, { nameA: 'eth9' })).rejects.toThrow(/bad interface name/);
      await expect(net.addVethPair(null, ns, { nameA: 'lb-waytoolongname' })).rejects.toThrow(/bad interface name/);
    });
  });
});
