import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;

async function lanboot(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return lanbootEnv({}, ...args);
}

async function lanbootEnv(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    return { code: 0, ...r };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('lanboot CLI', () => {
  it('finds the config without -c ($LANBOOT_CONFIG, else /etc/lanboot/lanboot.yaml), and says so when there is none', async () => {
    const r = await lanbootEnv({ LANBOOT_CONFIG: 'config/lanboot.yaml' }, 'check');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('demo1');
    const missing = await lanbootEnv({ LANBOOT_CONFIG: '/nonexistent/lanboot.yaml' }, 'leases');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('/nonexistent/lanboot.yaml: no such config file; pass -c FILE');
  });

  it('exits 3 when no running server answers (leases, reload)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-cli-'));
    const f = join(dir, 'lanboot.yaml');
    writeFileSync(f, `state_dir: ${dir}\nadmin: { port: 1 }\n`);
    expect((await lanboot('leases', '-c', f)).code).toBe(3);
    const r = await lanboot('reload', '-c', f);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no running lanboot found');
  });

  it('check prints the resolved plan of the embedded default config', async () => {
    const r = await lanboot('check', '--config', 'config/lanboot.yaml');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('config/lanboot.yaml: OK');
    expect(r.stdout).toContain('52:54:00:12:34:56  demo1  127.77.0.10  boot: iscsi');
    expect(r.stdout).toMatch(/PXE BIOS\s+pxe: an address, no boot file/); // the loopback demo answers iPXE only
    expect(r.stdout).toMatch(/iPXE\s+ipxe: file "http:\/\/127\.0\.0\.1:8080\/boot\/52:54:00:12:34:56\.ipxe"/);
    expect(r.stdout).toContain('iscsi:127.0.0.1::3260:1:iqn.2026-01.lanboot.demo:demo1');
  });

  it('check --json gives machine-readable answers', async () => {
    const r = await lanboot('check', '--config', 'config/lanboot.yaml', '--json');
    const j = JSON.parse(r.stdout) as { ok: boolean; problems: unknown[]; clients: Array<{ client: string }>; hosts: Array<{ name: string; ipxe: { stage: string } }> };
    expect(j.ok).toBe(true);
    expect(j.problems).toEqual([]);
    expect(j.clients[0]!.client).toBe('BIOS PXE');
    expect(j.hosts.map((h) => h.name)).toEqual(['demo1', 'demo2']);
    expect(j.hosts[0]!.ipxe.stage).toBe('ipxe');
  });

  it('check exits 1 when something will not work, naming file:line, the problem and the fix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-cli-'));
    const f = join(dir, 'lanboot.yaml');
    writeFileSync(f, `interfaces: []\nstate_dir: ${dir}\ndhcp:\n  subnets: [{ subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.199 }]\ntftp: { root: ${dir} }\nboot:\n  bios: undionly.kpxe\n  uefi: none\n`);
    const r = await lanboot('check', '--config', f);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${f}: 1 problem(s) that will not work`);
    expect(r.stdout).toMatch(new RegExp(`${f}:7: boot\\.bios: undionly\\.kpxe is not in the TFTP root ${dir}: BIOS PXE ROMs will fail to load it; `));
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a bad config with file:line:col and exit code 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-cli-'));
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'tftp:\n  root: /srv/tftp\n  blksize: 1024\n');
    const r = await lanboot('check', '--config', f);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}:3:3: tftp.blksize: unknown key "blksize"`);
    expect(r.stderr).toMatch(/did you mean "blksize_max"/);
  });

  it('import dnsmasq reads a conf-dir next to the file and names the included file in warnings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-cli-'));
    mkdirSync(join(dir, 'dnsmasq.d'));
    writeFileSync(join(dir, 'dnsmasq.conf'), 'interface=lan0\nconf-dir=dnsmasq.d,*.conf\n');
    writeFileSync(join(dir, 'dnsmasq.d', 'pxe.conf'), 'dhcp-range=10.5.0.10,10.5.0.20,255.255.255.0\nserver=9.9.9.9\n');
    const r = await lanboot('import', 'dnsmasq', join(dir, 'dnsmasq.conf'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('range: 10.5.0.10-10.5.0.20');
    expect(r.stderr).toContain(`${join(dir, 'dnsmasq.d', 'pxe.conf')}:2: warning: server`);
    // The count at the end is of the warnings printed above it.
    const warnings = r.stderr.split('\n').filter((l) => l.includes(': warning: ')).length;
    expect(r.stderr.trimEnd().split('\n').at(-1)).toBe(`${warnings} warning(s)`);
  });

  it('import reads stdin for the file name -', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'import', 'dnsmasq', '-'], {
      cwd: ROOT,
      encoding: 'utf8',
      input: 'dhcp-range=10.5.0.10,10.5.0.20,255.255.255.0\nserver=9.9.9.9\n',
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('range: 10.5.0.10-10.5.0.20');
    expect(r.stderr).toContain('stdin:2: warning: server');
  });

  it('answers --help and exits 2 on an unknown command, an unknown option or a missing argument', async () => {
    const help = await lanboot('--help');
    expect(help.code).toBe(0);
    for (const cmd of ['start', 'check', 'import', 'trace', 'leases', 'reload', 'reset', 'install-service']) expect(help.stdout).toContain(cmd);
    expect((await lanboot('check', '--help')).code).toBe(0);
    const bad = await lanboot('frobnicate');
    expect(bad.code).toBe(2);
    const option = await lanboot('install-service', '--dry-run');
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option '--dry-run'");
    expect((await lanboot('trace')).code).toBe(2);
  });

  it('every command and option in --help has its row in the README command table', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Command line'), readme.indexOf('-c FILE` defaults to'));
    const commands = [...(await lanboot('--help')).stdout.matchAll(/^  ([a-z-]+) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands.length).toBeGreaterThan(8);
    const missing: string[] = [];
    await Promise.all(
      commands.map(async (c) => {
        const row = table.split('\n').find((l) => l.startsWith(`| \`lanboot ${c} `) || l.startsWith(`| \`lanboot ${c}\``));
        if (!row) return void missing.push(c);
        // "-c, --config <file>": either spelling in the row will do.
        for (const m of (await lanboot(c, '--help')).stdout.matchAll(/^  (?:(-\w), )?(--[a-z-]+)/gm)) {
          if (m[2] !== '--help' && !row.includes(m[2]!) && !(m[1] && row.includes(`${m[1]!} `))) missing.push(`${c} ${m[2]}`);
        }
      }),
    );
    expect(missing.sort()).toEqual([]);
  });

  it('schema prints a reference row for every key', async () => {
    const r = await lanboot('schema');
    expect(r.stdout).toContain('| `tftp.blksize_max` | integer | `65464` |');
    expect(r.stdout).toContain('| `hosts.<mac>.ip` |');
  });

  it('trace follows one MAC across services in time order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-cli-'));
    const f = join(dir, 'log.json');
    const lines = [
      { time: '2026-01-01T00:00:02.000Z', svc: 'tftp', event: 'tftp.done', mac: '52:54:00:12:34:56', file: 'undionly.kpxe' },
      { time: '2026-01-01T00:00:01.000Z', svc: 'dhcp', event: 'dhcp.ack', mac: '52:54:00:12:34:56', stage: 'pxe' },
      { time: '2026-01-01T00:00:01.500Z', svc: 'dhcp', event: 'dhcp.ack', mac: '52:54:00:99:99:99' },
    ];
    writeFileSync(f, lines.map((l) => JSON.stringify(l)).join('\n') + '\nnot json\n');
    const r = await lanboot('trace', '52-54-00-12-34-56', '--log', f);
    const out = r.stdout.trim().split('\n');
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/^00:00:01\.000\s+dhcp\s+dhcp\.ack\s+stage=pxe/);
    expect(out[1]).toMatch(/tftp\.done\s+file=undionly\.kpxe/);
  });
});
