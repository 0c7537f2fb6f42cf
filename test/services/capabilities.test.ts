/**
 * The systemd unit starts lanboot as an ordinary user with two ambient
 * capabilities. systemd is not PID 1 here, so reproduce exactly that process
 * state with setpriv (same kernel mechanism: uid != 0, ambient + bounding set,
 * no_new_privs) and check lanboot's own packet socket and a privileged bind.
 */
import { describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const unit = readFileSync(fileURLToPath(new URL('../../services/lanboot.service', import.meta.url)), 'utf8');
const child = fileURLToPath(new URL('./fixtures/caps-child.ts', import.meta.url));
const canRun =
  process.getuid?.() === 0 &&
  spawnSync('setpriv', ['--version']).status === 0 &&
  (() => {
    try {
      return !!readFileSync(fileURLToPath(new URL('../../native/build/Release/lanboot_packet.node', import.meta.url))).length;
    } catch {
      return false;
    }
  })();

function unitCaps(): string[] {
  const line = /^AmbientCapabilities=(.*)$/m.exec(unit)![1]!;
  return line.split(/\s+/).map((c) => c.replace(/^CAP_/, '').toLowerCase());
}

async function asNobody(caps: string[], port: number) {
  const capArgs = caps.length
    ? [
        `--inh-caps=${caps.map((c) => '+' + c).join(',')}`,
        `--ambient-caps=${caps.map((c) => '+' + c).join(',')}`,
        `--bounding-set=-all,${caps.map((c) => '+' + c).join(',')}`,
      ]
    : ['--bounding-set=-all'];
  const { stdout } = await run(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', ...capArgs, '--no-new-privs', process.execPath, '--import', 'tsx', child, String(port)],
    { cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 30_000 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe.runIf(canRun)('the unit grants exactly enough', () => {
  it('with the unit\'s ambient capabilities an unprivileged lanboot opens packet sockets and binds ports < 1024', async () => {
    expect(unitCaps().sort()).toEqual(['net_bind_service', 'net_raw']);
    const port = 600 + Math.floor(Math.random() * 300);
    const r = await asNobody(unitCaps(), port);
    expect(r).toEqual({ uid: 65534, packet: 'ok', bind: 'ok' });
  });

  it('without them the same process is refused both (so the test above can fail)', async () => {
    const port = 600 + Math.floor(Math.random() * 300);
    const r = await asNobody([], port);
    expect(r.uid).toBe(65534);
    expect(r.packet).toMatch(/EPERM|not permitted/i);
    expect(r.bind).toBe('EACCES');
  });
});
