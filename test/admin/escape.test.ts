/**
 * Client-supplied strings (DHCP hostname, TFTP file names, user-class...) reach
 * the operator's terminal through `lanboot leases`, `hosts` and `trace`. A
 * hostname like "\x1b]0;pwned\x07" must print as text, never as a terminal
 * command (issue 9.16).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Config, HostConfig } from '../../src/config/types.js';
import { Telemetry } from '../../src/telemetry.js';
import { silent } from '../../src/log.js';
import { AdminServer } from '../../src/admin/server.js';
import { hostsCommand, leasesCommand } from '../../src/admin/commands.js';
import { formatLeases, printable } from '../../src/admin/tables.js';
import { traceLines } from '../../src/trace.js';

const EVIL = '\x1b]0;pwned\x07\x1b[2J\r\u009b31m\u202eevil';
/** Anything a terminal acts on: C0 (but the newline between lines), DEL, C1, bidi overrides. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const sink = () => {
  const s = { text: '', write: (x: string) => (s.text += x) };
  return s;
};
let server: AdminServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe('terminal escapes in CLI output', () => {
  it('printable() shows control characters as escapes and leaves other text alone', () => {
    expect(printable(EVIL)).toBe('\\x1b]0;pwned\\x07\\x1b[2J\\r\\u009b31m\\u202eevil');
    expect(printable('pc01 ünïcödé \\boot\\x.efi')).toBe('pc01 ünïcödé \\boot\\x.efi');
  });

  it('lanboot leases and hosts (table and --json) print a hostile hostname as text', async () => {
    server = new AdminServer(
      { address: '127.0.0.1', port: 0 },
      { telemetry: new Telemetry(), leases: () => [{ mac: '52:54:00:77:00:10', ip: '10.77.0.150', state: 'bound', hostname: EVIL }] },
      { log: silent },
    );
    const port = (await server.start()).port;
    const host = { mac: '52:54:00:77:00:10', prefix_bits: 48, name: 'pc01', boot: 'chain', chain: `http://x/${EVIL}`, line: 3 } as HostConfig;
    const c = { file: 'lanboot.yaml', admin: { address: '127.0.0.1', port }, hosts: [host], boot: { default: 'script' } } as unknown as Config;
    for (const json of [false, true]) {
      const leases = sink();
      expect(await leasesCommand(c, { json }, leases, sink())).toBe(0);
      expect(leases.text).toContain('pwned');
      expect(leases.text).not.toMatch(CONTROL);
      const hosts = sink();
      expect(await hostsCommand(c, { json }, hosts, sink())).toBe(0);
      expect(hosts.text).not.toMatch(CONTROL);
      if (json) expect(JSON.parse(leases.text)[0].hostname).toBe(EVIL); // the data itself is intact
    }
    expect(formatLeases([{ mac: '52:54:00:77:00:10', ip: '10.77.0.150', state: 'bound', hostname: 'pc\x1b[2J' }])).toContain('pc\\x1b[2J');
  });

  it('lanboot trace prints hostile values and keys from the log as text', async () => {
    const line = JSON.stringify({ level: 30, time: 1, svc: 'dhcp', event: 'dhcp.ack', mac: '52:54:00:77:00:10', hostname: EVIL, [`k${EVIL}`]: 1 });
    const lines = traceLines(line + '\n', '52:54:00:77:00:10');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('pwned');
    expect(lines[0]).not.toMatch(CONTROL);

    const dir = mkdtempSync(join(tmpdir(), 'lb-trace-'));
    try {
      writeFileSync(join(dir, 'log'), line + '\n');
      const root = new URL('../..', import.meta.url).pathname;
      const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(root, 'src/cli.ts'), 'trace', '52:54:00:77:00:10', '-l', join(dir, 'log')], { cwd: root });
      expect(r.stdout).toContain('pwned');
      expect(r.stdout).not.toMatch(CONTROL);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lanboot check and a refused config escape what the file itself says', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-check-'));
    const root = new URL('../..', import.meta.url).pathname;
    const cli = (f: string) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', join(root, 'src/cli.ts'), 'check', '-c', f], { cwd: root }).catch(
        (e: { stdout: string; stderr: string }) => e,
      );
    try {
      writeFileSync(join(dir, 'ok.yaml'), 'boot: { bios: "undionly\\e]0;pwned\\a.kpxe" }\nhosts: { 52:54:00:77:00:10: { name: pc01 } }\n');
      const ok = await cli(join(dir, 'ok.yaml'));
      expect(ok.stdout).toContain('pwned');
      expect(ok.stdout).not.toMatch(CONTROL);
      writeFileSync(join(dir, 'bad.yaml'), '"k\\e]0;pwned\\a": 1\n');
      const bad = await cli(join(dir, 'bad.yaml'));
      expect(bad.stderr).toContain('pwned');
      expect(bad.stderr).not.toMatch(CONTROL);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
