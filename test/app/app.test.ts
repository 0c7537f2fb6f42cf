import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
});

/** Start `lanboot start` and collect its stdout (JSON log) and stderr. */
function start(config: string): { p: ChildProcess; out: () => string; err: () => string; waitFor(re: RegExp, ms?: number): Promise<void> } {
  const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'start', '--config', config], { cwd: ROOT });
  procs.push(p);
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (err += d));
  return {
    p,
    out: () => out,
    err: () => err,
    waitFor: (re, ms = 15_000) =>
      new Promise((resolve, reject) => {
        const t0 = Date.now();
        const tick = () => {
          if (re.test(out) || re.test(err)) return resolve();
          if (p.exitCode !== null) return reject(new Error(`exited ${p.exitCode}: ${err}`));
          if (Date.now() - t0 > ms) return reject(new Error(`timeout waiting for ${re}; stderr: ${err}\nstdout: ${out.slice(-2000)}`));
          setTimeout(tick, 50);
        };
        tick();
      }),
  };
}

const free = () => 20000 + Math.floor(Math.random() * 20000);

function configText(ports: { http: number; tftp: number; admin: number }, hosts: string, httpRoot = './root'): string {
  return `server: 127.0.0.1
state_dir: ./state
tftp: { address: 127.0.0.1, port: ${ports.tftp}, root: ./root }
http: { address: 127.0.0.1, port: ${ports.http}, root: ${httpRoot} }
admin: { address: 127.0.0.1, port: ${ports.admin} }
iscsi: { target: "iqn.2026-01.test:{name}", initiator: "iqn.2026-01.test:i:{name}" }
hosts:
${hosts}`;
}

describe('lanboot start', () => {
  it('runs the embedded default config and serves a script, a TFTP file and the status page', async () => {
    const s = start('config/lanboot.yaml');
    await s.waitFor(/Try:/);
    expect(s.err()).toMatch(/dhcp\s+127\.0\.0\.1:1067/);
    const script = await (await fetch('http://127.0.0.1:8080/boot/52:54:00:12:34:56.ipxe')).text();
    expect(script).toMatch(/^#!ipxe/);
    expect(script).toContain('iqn.2026-01.lanboot.demo:initiator:demo1');
    const page = await fetch('http://127.0.0.1:8067/');
    expect(page.status).toBe(200);
    s.p.kill('SIGTERM');
    await new Promise((r) => s.p.once('exit', r));
    expect(s.p.exitCode).toBe(0);
  });

  it('reloads on SIGHUP: refuses an invalid config with its position and keeps serving; applies a valid one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-app-'));
    mkdirSync(join(dir, 'root'));
    writeFileSync(join(dir, 'root', 'a.txt'), 'hello');
    const ports = { http: free(), tftp: free(), admin: free() };
    const cfg = join(dir, 'lanboot.yaml');
    writeFileSync(cfg, configText(ports, '  52:54:00:00:00:01: { name: one, boot: iscsi }\n'));
    const s = start(cfg);
    await s.waitFor(/Try:/);
    const url = (mac: string) => `http://127.0.0.1:${ports.http}/boot/${mac}.ipxe`;
    expect(await (await fetch(url('52:54:00:00:00:01'))).text()).toContain('iqn.2026-01.test:one');
    expect(await (await fetch(`http://127.0.0.1:${ports.http}/a.txt`)).text()).toBe('hello');

    // Invalid: the old config keeps running and the log names file:line:col.
    writeFileSync(cfg, configText(ports, '  52:54:00:00:00:01: { name: one, boot: iscsy }\n'));
    s.p.kill('SIGHUP');
    await s.waitFor(/core\.reload_refused/);
    expect(s.out()).toContain(`${cfg}:8:41: hosts.52:54:00:00:00:01.boot: expected one of:`);
    expect(await (await fetch(url('52:54:00:00:00:01'))).text()).toContain('iqn.2026-01.test:one');

    // Valid: new hosts and a new http.root are served at once, by the same sockets.
    mkdirSync(join(dir, 'web'));
    writeFileSync(join(dir, 'web', 'a.txt'), 'world');
    writeFileSync(cfg, configText(ports, '  52:54:00:00:00:01: { name: uno, boot: iscsi }\n  52:54:00:00:00:02: { name: two, boot: iscsi }\n', './web'));
    s.p.kill('SIGHUP');
    await s.waitFor(/"event":"core\.reload"/);
    expect(await (await fetch(`http://127.0.0.1:${ports.http}/a.txt`)).text()).toBe('world');
    expect(await (await fetch(url('52:54:00:00:00:01'))).text()).toContain('iqn.2026-01.test:uno');
    expect(await (await fetch(url('52:54:00:00:00:02'))).text()).toContain('iqn.2026-01.test:two');
    expect(readFileSync(join(dir, 'state', 'lanboot.pid'), 'utf8').trim()).toBe(String(s.p.pid));
  });

  it('logs JSON to a pipe by default and text with log.format: text, one line per event with the MAC', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-app-'));
    mkdirSync(join(dir, 'root'));
    const run = async (format: string) => {
      const ports = { http: free(), tftp: free(), admin: free() };
      const cfg = join(dir, `${format || 'default'}.yaml`);
      writeFileSync(cfg, (format ? `log: { format: ${format} }\n` : '') + configText(ports, '  52:54:00:00:00:01: { name: one, boot: iscsi }\n'));
      const s = start(cfg);
      await s.waitFor(/Try:/);
      await (await fetch(`http://127.0.0.1:${ports.http}/boot/52:54:00:00:00:01.ipxe`)).text();
      s.p.kill('SIGTERM');
      await new Promise((r) => s.p.once('exit', r));
      return s.out().trim().split('\n');
    };
    const json = await run('');
    expect(json.every((l) => JSON.parse(l))).toBe(true);
    expect(json.map((l) => JSON.parse(l).event)).toEqual(expect.arrayContaining(['core.start', 'http.script', 'core.stop']));

    const text = await run('text');
    expect(text.some((l) => l.startsWith('{'))).toBe(false);
    expect(text).toHaveLength(json.length);
    expect(text.filter((l) => / lanboot started \(pid \d+, 1 hosts, config .*text\.yaml\)$/.test(l))).toHaveLength(1);
    expect(text.filter((l) => / HTTP script \/boot\/52:54:00:00:00:01\.ipxe to 127\.0\.0\.1 \(52:54:00:00:00:01\)$/.test(l))).toHaveLength(1);
    expect(text.at(-1)).toMatch(/ lanboot stopping \(SIGTERM\)$/);
  });
});

describe('App.reload', () => {
  it('says a changed log level or format needs a restart (the loggers are made at start)', () => {
    const f = join(tmpdir(), 'lanboot.yaml');
    const app = new App(parseConfig('log: { level: info }\n', f));
    expect(app.reload(parseConfig('log: { level: info }\n', f))).toEqual([]);
    expect(app.reload(parseConfig('log: { level: info, format: text }\n', f))).toEqual(['log level or format changed: restart to apply']);
  });
});
