import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { resetArgv, resetHost, runReset } from '../../src/hooks/reset.js';
import { HttpServer } from '../../src/http/server.js';
import { silent } from '../../src/log.js';
import { BootPlan } from '../../src/plan/index.js';
import { Telemetry, type BootEvent } from '../../src/telemetry.js';
import { NetnsScope } from '../helpers/netns.js';

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

describe('reset over HTTP: only from the host itself or loopback (netns)', () => {
  const net = new NetnsScope();
  let ns: string;
  let server: HttpServer;
  let port: number;
  const tel = new Telemetry();
  const events: BootEvent[] = [];
  tel.on('event', (e: BootEvent) => events.push(e));

  beforeAll(async () => {
    ns = await net.createNetns('lb-rst-');
    // Root side 10.99.0.1 (the server), namespace side 10.99.0.2 = pc01's address; .3 added as pc02's.
    const v = await net.addVethPair(null, ns, { addrA: '10.99.0.1/24', addrB: '10.99.0.2/24' });
    await net.exec(ns, 'ip', ['addr', 'add', '10.99.0.3/24', 'dev', v.b]);
    server = new HttpServer({ address: '10.99.0.1', port: 0, root: dir }, silent, tel, {
      file: () => undefined,
      ipFor: (mac) => plan.host(mac)?.ip,
      macFor: (ip) => plan.config.hosts.find((h) => h.ip === ip)?.mac,
      resetArgv: (mac) => {
        const d = plan.derive(mac);
        const argv = d && resetArgv(d);
        return argv ? { argv, name: d!.name } : undefined;
      },
    });
    ({ port } = await server.start());
  });
  afterAll(async () => {
    await server.stop();
    await net.cleanup();
  });

  const curl = (src: string, mac: string) =>
    net.exec(ns, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--interface', src, '-X', 'POST', `http://10.99.0.1:${port}/reset/${mac}`]);

  it('pc01 may reset itself; pc02 (another host) may not reset pc01; loopback may', async () => {
    rmSync(OUT, { force: true });
    events.length = 0;
    expect((await curl('10.99.0.3', '52:54:00:77:00:10')).stdout).toBe('403');
    expect(() => readFileSync(OUT)).toThrow();
    const denied = events.length;
    expect((await curl('10.99.0.2', '52:54:00:77:00:10')).stdout).toBe('200');
    expect(readFileSync(OUT, 'utf8')).toContain('pc01|52:54:00:77:00:10');
    expect(events.slice(denied).some((e) => e.event === 'reset.done' && e.mac === '52:54:00:77:00:10' && e.ok === true)).toBe(true);
  });
});
