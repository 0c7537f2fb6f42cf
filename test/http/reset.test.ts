import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { resetArgv, resetHost, runReset } from '../../src/hooks/reset.js';
import { loadResetKey, ResetTokens } from '../../src/hooks/reset-token.js';
import { BootPlan } from '../../src/plan/index.js';
import { Telemetry, type BootEvent } from '../../src/telemetry.js';
import { NetnsScope, waitForOutput } from '../helpers/netns.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'lb-reset-'));
const OUT = join(dir, 'out');
// node writes its argv (after the script) to OUT: proves what the command received.
const WRITER = `require('fs').appendFileSync(${JSON.stringify(OUT)}, process.argv.slice(1).join('|') + '\\n')`;

const YAML = `server: 10.77.0.1
dhcp:
  subnets:
    - { subnet: 10.99.0.0/24, range: 10.99.0.100-10.99.0.199 }
boot:
  bios: undionly.kpxe
  uefi: snponly.efi
  script: http://{server}/boot/{mac}.ipxe
iscsi:
  target: iqn.2010-01.lan.example:{name}
  initiator: iqn.2010-01.lan.example:initiator:{name}
hosts:
  52:54:00:77:00:10: { name: pc01, ip: 10.99.0.2, boot: iscsi, reset: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(WRITER)}, '{name}', '{mac}', '{iqn}', '{target}'] }
  52:54:00:77:00:11: { name: pc02, ip: 10.99.0.3, boot: iscsi, reset: [${JSON.stringify(process.execPath)}, -e, 'setTimeout(() => {{}}, 60000)'] }
  52:54:00:77:00:12: { name: pc03, ip: 10.99.0.4, boot: local }
`;
const plan = new BootPlan(parseConfig(YAML, 'lanboot.yaml'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reset hook (src/hooks/reset.ts)', () => {
  it('expands {name} {mac} {iqn} {target} per argument from the derived host', () => {
    const argv = resetArgv(plan.derive('52:54:00:77:00:10', { serverAddress: '10.77.0.1' })!)!;
    expect(argv.slice(3)).toEqual(['pc01', '52:54:00:77:00:10', 'iqn.2010-01.lan.example:initiator:pc01', 'iqn.2010-01.lan.example:pc01']);
    expect(resetArgv(plan.derive('52:54:00:77:00:12')!)).toBeUndefined();
  });

  it('CLI entry: resetHost runs the command and reports; unknown MAC / no reset are errors, not throws', async () => {
    rmSync(OUT, { force: true });
    const lines: unknown[] = [];
    const tel = new Telemetry();
    tel.on('event', (e: BootEvent) => lines.push(e));
    const r = await resetHost(plan, '52-54-00-77-00-10', { via: 'cli', telemetry: tel, values: { server: '10.77.0.1' } });
    expect(r).toMatchObject({ ok: true, code: 0, name: 'pc01', mac: '52:54:00:77:00:10' });
    expect(readFileSync(OUT, 'utf8').trim().split('|')).toEqual(['pc01', '52:54:00:77:00:10', 'iqn.2010-01.lan.example:initiator:pc01', 'iqn.2010-01.lan.example:pc01']);
    expect(lines).toEqual([expect.objectContaining({ event: 'reset.done', mac: '52:54:00:77:00:10', via: 'cli', ok: true })]);
    expect(await resetHost(plan, '52:54:00:77:00:99', { via: 'cli' })).toMatchObject({ ok: false, error: 'no host entry for 52:54:00:77:00:99' });
    expect(await resetHost(plan, '52:54:00:77:00:12', { via: 'cli' })).toMatchObject({ ok: false, error: 'host pc03 has no reset: command' });
  });

  it('a hanging command is killed at the timeout; a second run for the same MAC meanwhile is refused as busy', async () => {
    const argv = resetArgv(plan.derive('52:54:00:77:00:11')!)!;
    const first = runReset('52:54:00:77:00:11', argv, { via: 'cli', timeoutMs: 400 });
    const second = await runReset('52:54:00:77:00:11', argv, { via: 'cli', timeoutMs: 400 });
    expect(second).toMatchObject({ ok: false, error: expect.stringMatching(/^busy/) });
    const r = await first;
    expect(r).toMatchObject({ ok: false, timedOut: true, signal: 'SIGKILL' });
  });
});

describe('reset over HTTP needs the token from the host’s own script (netns, lanboot start)', () => {
  const net = new NetnsScope();
  let nsS: string;
  let nsC: string;
  let lanboot: ChildProcess;
  let out = '';
  const PC01 = '52:54:00:77:00:10';
  const cfg = join(dir, 'lanboot.yaml');

  const startLanboot = async () => {
    lanboot = net.spawn(nsS, process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'start', '--config', cfg], { cwd: ROOT });
    lanboot.stdout!.on('data', (d) => (out += d));
    await waitForOutput(lanboot, /"event":"http.listen"/, 30_000);
  };

  beforeAll(async () => {
    writeFileSync(
      cfg,
      `server: 10.99.0.1
state_dir: ./state
http: { address: 10.99.0.1, port: 80, root: . }
iscsi: { target: "iqn.2010-01.lan.example:{name}", initiator: "iqn.2010-01.lan.example:initiator:{name}" }
hosts:
  ${PC01}: { name: pc01, ip: 10.99.0.2, boot: menu, menu: [iscsi, local], reset: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(WRITER)}, '{name}'] }
  52:54:00:77:00:11: { name: pc02, ip: 10.99.0.3, boot: iscsi }
`,
    );
    nsS = await net.createNetns('lb-rsts');
    nsC = await net.createNetns('lb-rstc');
    // The server at 10.99.0.1; in the client namespace pc01's address .2 and pc02's .3.
    const v = await net.addVethPair(nsS, nsC, { addrA: '10.99.0.1/24', addrB: '10.99.0.2/24' });
    await net.exec(nsC, 'ip', ['addr', 'add', '10.99.0.3/24', 'dev', v.b]);
    await startLanboot();
  }, 60_000);
  afterAll(async () => {
    await net.cleanup();
  });

  /** curl from `src` in the client namespace (or from the server's own loopback): [status, body]. */
  const curl = async (src: string, url: string, extra: string[] = []): Promise<[string, string]> => {
    const inServer = src === '127.0.0.1';
    const r = await net.exec(inServer ? nsS : nsC, 'curl', ['-s', '-w', '\n%{http_code}', ...(inServer ? [] : ['--interface', src]), ...extra, url]);
    const i = r.stdout.lastIndexOf('\n');
    return [r.stdout.slice(i + 1), r.stdout.slice(0, i)];
  };
  const ran = () => {
    try {
      return readFileSync(OUT, 'utf8');
    } catch {
      return '';
    }
  };
  const script = (src: string, host?: string) => curl(src, `http://10.99.0.1/boot/${PC01}.ipxe`, host ? ['-H', `Host: ${host}`] : []);
  const resetUrlIn = (body: string) => /chain --autofree (http:\/\/\S+\/reset\/\S+)/.exec(body)?.[1];

  it('the host runs its reset with the URL from its script; without it, or from elsewhere, or from a browser, it is refused and the 403 names no one', async () => {
    rmSync(OUT, { force: true });
    // A borrowed or spoofed address alone is not enough: from pc01's own address, no token.
    for (const method of ['GET', 'POST']) {
      const [status, body] = await curl('10.99.0.2', `http://10.99.0.1/reset/${PC01}`, ['-X', method]);
      expect(status).toBe('403');
      expect(body).not.toMatch(/10\.99\.0\.2|loopback|allowed/);
    }
    // A cross-site POST from the server itself (a browser on the router): refused.
    expect((await curl('127.0.0.1', `http://10.99.0.1/reset/${PC01}`, ['-X', 'POST', '-H', 'Origin: http://evil.example']))[0]).toBe('403');
    expect((await curl('127.0.0.1', `http://10.99.0.1/reset/${PC01}`, ['-X', 'POST']))[0]).toBe('403');
    expect(ran()).toBe('');

    // pc01's script carries a token; the same script fetched by pc02, or under a DNS name, does not.
    const [, mine] = await script('10.99.0.2');
    const url = resetUrlIn(mine)!;
    expect(url).toMatch(new RegExp(`^http://10\\.99\\.0\\.1/reset/${PC01}\\?token=\\d+\\.[0-9a-f]{32}$`));
    expect(resetUrlIn((await script('10.99.0.3'))[1])).toBe(`http://10.99.0.1/reset/${PC01}`);
    expect(resetUrlIn((await script('10.99.0.2', 'evil.example'))[1])).toBe(`http://10.99.0.1/reset/${PC01}`);

    // The token works only from pc01's address, only for pc01, and not from a browser.
    expect((await curl('10.99.0.3', url))[0]).toBe('403');
    expect((await curl('10.99.0.2', url.replace('00:10?', '00:11?')))[0]).toBe('403');
    expect((await curl('10.99.0.2', url.slice(0, -1) + (url.endsWith('0') ? '1' : '0')))[0]).toBe('403');
    expect((await curl('10.99.0.2', url, ['-H', 'Referer: http://evil.example/']))[0]).toBe('403');
    expect((await curl('10.99.0.2', url, ['-H', 'Host: evil.example']))[0]).toBe('403');
    expect((await curl('10.99.0.2', url, ['-H', 'Sec-Fetch-Site: cross-site']))[0]).toBe('403');
    expect(ran()).toBe('');

    // What iPXE does: GET the URL from its own address.
    const [status, body] = await curl('10.99.0.2', url);
    expect(status).toBe('200');
    expect(body).toMatch(/^#!ipxe\necho lanboot: reset of pc01 done/);
    expect(ran()).toBe('pc01\n');
    // The log says why each was refused, and never carries the token.
    for (const reason of ['no-token', 'cross-site', 'host-name', 'not-host-address', 'bad-token']) expect(out).toContain(`"reason":"${reason}"`);
    expect(out).not.toContain(url.split('token=')[1]!);
  });

  it('keeps the key in state_dir (0600), so a script fetched before a restart still resets after it', async () => {
    const st = statSync(join(dir, 'state', 'reset.key'));
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.size).toBe(32);
    const url = resetUrlIn((await script('10.99.0.2'))[1])!;
    lanboot.kill('SIGTERM');
    await new Promise((r) => lanboot.once('exit', r));
    await startLanboot();
    rmSync(OUT, { force: true });
    expect((await curl('10.99.0.2', url))[0]).toBe('200');
    expect(ran()).toBe('pc01\n');
  });
});

describe('reset tokens', () => {
  it('are bound to MAC, address and an expiry, and cannot be altered', () => {
    let now = 1_700_000_000_000;
    const t = new ResetTokens(Buffer.alloc(32, 7), 3600_000, () => now);
    const tok = t.issue('52:54:00:77:00:10', '10.99.0.2');
    expect(t.check('52:54:00:77:00:10', '10.99.0.2', tok)).toBe(true);
    expect(t.check('52:54:00:77:00:11', '10.99.0.2', tok)).toBe(false);
    expect(t.check('52:54:00:77:00:10', '10.99.0.3', tok)).toBe(false);
    expect(t.check('52:54:00:77:00:10', '10.99.0.2', tok.replace(/^\d+/, (e) => String(Number(e) + 60)))).toBe(false);
    expect(t.check('52:54:00:77:00:10', '10.99.0.2', tok.slice(0, -1) + (tok.endsWith('0') ? '1' : '0'))).toBe(false);
    expect(new ResetTokens(Buffer.alloc(32, 8), 3600_000, () => now).check('52:54:00:77:00:10', '10.99.0.2', tok)).toBe(false);
    now += 3601_000;
    expect(t.check('52:54:00:77:00:10', '10.99.0.2', tok)).toBe(false);
  });

  it('use a key kept in memory when state_dir cannot hold one', () => {
    const notDir = join(dir, 'a-file');
    writeFileSync(notDir, 'x');
    const lines: string[] = [];
    const log = { warn: (o: { event: string }) => lines.push(o.event) } as unknown as Parameters<typeof loadResetKey>[1];
    const k = loadResetKey(notDir, log);
    expect(k.key.length).toBe(32);
    expect(k.file).toBeUndefined();
    expect(lines).toEqual(['reset.key_memory']);
  });
});
