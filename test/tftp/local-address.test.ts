/**
 * The local address a transfer answers from. The server's interface has two
 * addresses (10.66.0.1 primary, 10.66.0.9 secondary) and TFTP listens on
 * 0.0.0.0; a client asks 10.66.0.9. A PXE ROM drops DATA from any other
 * address (tftp-hpa and dnsmasq answer from the RRQ's destination), so the
 * read's DATA, the upload's ACKs and a refusal's ERROR must all come from
 * 10.66.0.9. Without the native socket (dgram, addon not built) the source
 * follows the route: 10.66.0.1, as before.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsScope, waitForOutput } from '../helpers/netns.js';
import { sha256, tmpdir } from './helpers.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const canRun = process.getuid?.() === 0;
const scope = new NetnsScope();
let srv = '';
let cli = '';
let root = '';
let uploads = '';
const data = crypto.randomBytes(3000);

beforeAll(async () => {
  if (!canRun) return;
  root = tmpdir('lb-tftp-local-');
  uploads = path.join(root, 'up');
  fs.mkdirSync(uploads);
  fs.writeFileSync(path.join(root, 'f'), data);
  srv = await scope.createNetns();
  cli = await scope.createNetns();
  const v = await scope.addVethPair(srv, cli, { addrA: '10.66.0.1/24', addrB: '10.66.0.2/24' });
  const r = await scope.exec(srv, 'ip', ['addr', 'add', '10.66.0.9/24', 'dev', v.a]);
  expect(r.code, r.stderr).toBe(0);
}, 30_000);

afterAll(async () => {
  await scope.cleanup();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

async function serve(dgram: boolean): Promise<() => Promise<void>> {
  const cfg = JSON.stringify({ root, upload_dir: uploads, address: '0.0.0.0', port: 69 });
  const child = scope.spawn(srv, process.execPath, ['--import', 'tsx', 'test/tftp/fixtures/serve.ts', cfg], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LB_TFTP_DGRAM: dgram ? '1' : '0' },
  });
  await waitForOutput(child, /^LISTEN /, 20_000);
  return () =>
    new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
}

async function ask(op: 'RRQ' | 'WRQ', file: string): Promise<{ sources: string[]; bytes: number; error?: string }> {
  const r = await scope.exec(cli, process.execPath, ['--import', 'tsx', path.join(repo, 'test/tftp/fixtures/source-client.ts'), '10.66.0.9', '69', op, file], {
    timeoutMs: 20_000,
  });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim());
}

describe.skipIf(!canRun)('TFTP answers from the address the request was sent to', () => {
  it('read, upload and refusal come from the secondary address (native listening socket)', async () => {
    const stop = await serve(false);
    try {
      const read = await ask('RRQ', 'f');
      expect(read.error).toBeUndefined();
      expect(read.bytes).toBe(data.length);
      expect(new Set(read.sources)).toEqual(new Set(['10.66.0.9']));
      const up = await ask('WRQ', 'u');
      expect(up.error).toBeUndefined();
      expect(up.bytes).toBe(3);
      expect(new Set(up.sources)).toEqual(new Set(['10.66.0.9']));
      const missing = await ask('RRQ', 'missing');
      expect(missing.error).toMatch(/^error 1/);
      expect(missing.sources).toEqual(['10.66.0.9']);
      // A client that checks nothing still gets the same bytes.
      const out = path.join(root, 'curl.out');
      const c = await scope.exec(cli, 'curl', ['-s', '-S', '-o', out, 'tftp://10.66.0.9/f']);
      expect(c.code, c.stderr).toBe(0);
      expect(sha256(out)).toBe(sha256(path.join(root, 'f')));
    } finally {
      await stop();
    }
  }, 60_000);

  it('without the addon the listening socket is dgram and the source follows the route', async () => {
    const stop = await serve(true);
    try {
      const read = await ask('RRQ', 'f');
      expect(read.bytes).toBe(data.length);
      expect(new Set(read.sources)).toEqual(new Set(['10.66.0.1']));
    } finally {
      await stop();
    }
  }, 60_000);
});
