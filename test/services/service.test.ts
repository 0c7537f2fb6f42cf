import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installService, renderUnit, unreachableForService } from '../../src/admin/install-service.js';
import { START_NODE_FLAGS, missingNodeFlags } from '../../src/node-flags.js';

const tmp = mkdtempSync(join(tmpdir(), 'lb-svc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url)); // any existing file: verify checks ExecStart exists

/** [Section] -> key -> values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let sec: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      out.set(s[1]!, (sec = new Map()));
      continue;
    }
    const eq = line.indexOf('=');
    expect(eq, `not key=value: ${line}`).toBeGreaterThan(0);
    expect(sec, `key outside a section: ${line}`).toBeDefined();
    const k = line.slice(0, eq);
    sec!.set(k, [...(sec!.get(k) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('systemd unit', () => {
  const unit = renderUnit('systemd', [process.execPath, CLI], '/etc/lanboot/lanboot.yaml');
  const path = join(tmp, 'lanboot.service');
  writeFileSync(path, unit);

  it.runIf(hasSystemdAnalyze)('passes systemd-analyze verify without a single complaint', () => {
    const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
    // verify exits 0 on unknown keys and bad values but prints them: both must be clean.
    const complaints = (r.stderr + r.stdout).split('\n').filter((l) => l.includes('lanboot.service'));
    expect(complaints).toEqual([]);
    expect(r.status).toBe(0);
  });

  it('verify would catch a broken unit (the check above can fail)', () => {
    if (!hasSystemdAnalyze) return;
    const bad = join(tmp, 'broken.service');
    writeFileSync(bad, unit.replace('ProtectSystem=strict', 'ProtectSystem=stricter'));
    const r = spawnSync('systemd-analyze', ['verify', bad], { encoding: 'utf8' });
    expect(r.stderr).toMatch(/protect system/i);
  });

  it('runs as its own user with exactly the two capabilities it needs, hardened', () => {
    const u = parseUnit(unit);
    const svc = u.get('Service')!;
    const one = (k: string) => {
      expect(svc.get(k), k).toHaveLength(1);
      return svc.get(k)![0]!;
    };
    expect(one('User')).toBe('lanboot');
    const caps = (k: string) => one(k).split(/\s+/).sort();
    expect(caps('AmbientCapabilities')).toEqual(['CAP_NET_BIND_SERVICE', 'CAP_NET_RAW']);
    expect(caps('CapabilityBoundingSet')).toEqual(['CAP_NET_BIND_SERVICE', 'CAP_NET_RAW']);
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ReadWritePaths')).toBe('/var/lib/lanboot');
    expect(one('StateDirectory')).toBe('lanboot');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('RestrictAddressFamilies').split(/\s+/).sort()).toEqual(['AF_INET', 'AF_NETLINK', 'AF_PACKET', 'AF_UNIX']);
    expect(one('ExecReload')).toMatch(/kill -HUP \$MAINPID$/);
    expect(one('ExecStart')).toBe(`${process.execPath} ${CLI} start --config /etc/lanboot/lanboot.yaml`);
    expect(svc.has('MemoryDenyWriteExecute')).toBe(false); // V8 JIT
    expect(u.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('the writable path is the schema default state_dir', async () => {
    const schema = fileURLToPath(new URL('../../src/config/schema.ts', import.meta.url));
    if (!existsSync(schema)) return;
    const { root } = await import('../../src/config/schema.js');
    expect(root.parse({}).state_dir).toBe('/var/lib/lanboot');
  });
});

describe('OpenWrt procd script', () => {
  it('is valid sh and hands procd the right instance (run against a recording rc.common)', () => {
    const script = join(tmp, 'lanboot.init');
    writeFileSync(script, renderUnit('procd', ['/usr/bin/lanboot'], '/etc/lanboot/lanboot.yaml'));
    execFileSync('sh', ['-n', script]);
    const stub = join(tmp, 'rc.common');
    writeFileSync(
      stub,
      [
        'procd_open_instance() { echo "open $*"; }',
        'procd_close_instance() { echo close; }',
        'procd_set_param() { echo "param $*"; }',
        'procd_send_signal() { echo "signal $*"; }',
      ].join('\n') + '\n',
    );
    const out = execFileSync('sh', ['-c', `. "${stub}"; . "${script}"; echo "USE_PROCD=$USE_PROCD START=$START"; start_service; reload_service`], {
      encoding: 'utf8',
    }).split('\n');
    expect(out).toContain('USE_PROCD=1 START=60');
    expect(out).toContain('param command /usr/bin/lanboot start --config /etc/lanboot/lanboot.yaml');
    expect(out).toContain('param respawn 3600 5 5');
    expect(out).toContain('signal lanboot * HUP');
    expect(out.indexOf('open ')).toBeLessThan(out.indexOf('close'));
  });

  it('a node + script command line is quoted for sh', () => {
    const s = renderUnit('procd', ['/usr/bin/node', '/opt/lan boot/cli.js'], '/etc/lanboot/lanboot.yaml');
    expect(s).toContain(`procd_set_param command "$PROG" '/opt/lan boot/cli.js' start`);
  });
});

describe('installService', () => {
  it('--print writes the unit to the given stream and changes nothing', async () => {
    let printed = '';
    const r = await installService({ print: true, init: 'systemd', prefix: join(tmp, 'nothing'), out: { write: (s: string) => (printed += s) } });
    expect(printed).toContain('[Service]');
    expect(printed).toContain('AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW');
    expect(existsSync(join(tmp, 'nothing'))).toBe(false);
    expect(r.next).toContain('systemctl enable --now lanboot');
  });

  it('installs under a prefix with the right modes, detecting OpenWrt', async () => {
    const sysd = join(tmp, 'root-systemd');
    const r1 = await installService({ print: false, prefix: sysd, command: ['/usr/bin/lanboot'] });
    expect(r1.init).toBe('systemd');
    const unitPath = join(sysd, 'etc/systemd/system/lanboot.service');
    expect(statSync(unitPath).mode & 0o777).toBe(0o644);
    expect(readFileSync(unitPath, 'utf8')).toMatch(/^ExecStart=\/usr\/bin\/lanboot start --config \/etc\/lanboot\/lanboot\.yaml$/m);
    expect(r1.userCreated).toBe(false); // never touches the system under a prefix
    // No CAP_NET_ADMIN in the unit: the receive-buffer cap is raised instead.
    expect(readFileSync(join(sysd, 'etc/sysctl.d/60-lanboot.conf'), 'utf8')).toMatch(/^net\.core\.rmem_max = 4194304$/m);

    const owrt = join(tmp, 'root-openwrt');
    execFileSync('mkdir', ['-p', join(owrt, 'etc')]);
    writeFileSync(join(owrt, 'etc/openwrt_release'), "DISTRIB_ID='OpenWrt'\n");
    const r2 = await installService({ print: false, prefix: owrt, command: ['/usr/bin/lanboot'] });
    expect(r2.init).toBe('procd');
    expect(statSync(join(owrt, 'etc/init.d/lanboot')).mode & 0o777).toBe(0o755);
    expect(r2.next.some((n) => n.includes('user: lanboot'))).toBe(true);
  });

  it('the unit starts node with the heap flags, so lanboot start needs no re-exec; only flags it lacks are re-added', async () => {
    let printed = '';
    await installService({ print: true, init: 'systemd', prefix: join(tmp, 'nothing'), out: { write: (s: string) => (printed += s) } });
    const exec = printed.match(/^ExecStart=(.*)$/m)![1]!.split(' ');
    expect(exec.slice(0, 1 + START_NODE_FLAGS.length)).toEqual([process.execPath, ...START_NODE_FLAGS]);
    expect(missingNodeFlags(exec.slice(1, 1 + START_NODE_FLAGS.length), '')).toEqual([]);
    expect(missingNodeFlags([], '')).toEqual([...START_NODE_FLAGS]);
    // The operator's own value wins, on the command line or in NODE_OPTIONS.
    expect(missingNodeFlags(['--max-semi-space-size=16'], '--heap-growing-percent=50')).toEqual([]);
    expect(missingNodeFlags(['--inspect'], '--max-semi-space-size=1')).toEqual(START_NODE_FLAGS.filter((f) => !f.startsWith('--max-semi-space-size')));
  });

  it('refuses an installation the unit\'s user cannot run (a checkout in /root or /home), and says how to install instead', async () => {
    expect(unreachableForService('/root/lanboot/dist/src/cli.js')).toMatch(/under \/root, which the unit hides \(ProtectHome=yes\)/);
    expect(unreachableForService('/home/ann/lanboot/dist/src/cli.js')).toMatch(/ProtectHome/);
    const locked = join(tmp, 'locked');
    execFileSync('mkdir', ['-p', join(locked, 'dist')]);
    writeFileSync(join(locked, 'dist/cli.js'), '');
    execFileSync('chmod', ['700', locked]);
    expect(unreachableForService(join(locked, 'dist/cli.js'))).toMatch(/not searchable by other users \(mode 700\)/);
    expect(unreachableForService(process.execPath)).toBeUndefined();
    const r = await installService({ print: true, init: 'systemd', command: [process.execPath, '/root/lanboot/dist/src/cli.js'], out: { write: () => 0 } });
    expect(r.next[0]).toMatch(/^warning: .*ProtectHome.*npm pack.*npm install -g/);
    await expect(installService({ print: false, init: 'systemd', command: [process.execPath, '/root/lanboot/dist/src/cli.js'] })).rejects.toThrow(/npm pack/);
  });
});

describe('npm pack (how README installs lanboot)', () => {
  it('holds what an installed lanboot reads at run time: the status page, native sources, service files, the default config', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    const files = new Set((JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
    // src/admin/server.ts reads the page from src/admin/ beside dist/: without it the page says "status.html not found".
    for (const f of ['src/admin/status.html', 'dist/src/cli.js', 'native/binding.gyp', 'native/lanboot_packet.c', 'native/lanboot_caps.c', 'native/tftp_engine.c', 'services/lanboot.service', 'services/lanboot.init', 'config/lanboot.yaml']) {
      expect(files, f).toContain(f);
    }
  });
});
