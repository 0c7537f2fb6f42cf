import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silent } from '../../src/log.js';
import { HttpServer, type HttpHooks } from '../../src/http/server.js';
import { parseRange } from '../../src/http/range.js';
import { Telemetry, type BootEvent } from '../../src/telemetry.js';
import { ResetTokens } from '../../src/hooks/reset-token.js';
import { randomBytes } from 'node:crypto';

const MAC = '52:54:00:77:00:10';

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('Range header parsing (RFC 9110 14.2)', () => {
  it('single ranges, suffixes, open ends, clamping', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual({ start: 0, end: 99 });
    expect(parseRange('bytes=900-', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=-100', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=-5000', 1000)).toEqual({ start: 0, end: 999 });
    expect(parseRange('bytes=990-5000', 1000)).toEqual({ start: 990, end: 999 });
    expect(parseRange('bytes = 5 - 9', 1000)).toEqual({ start: 5, end: 9 });
  });
  it('unsatisfiable vs. ignored', () => {
    expect(parseRange('bytes=1000-', 1000)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 1000)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-0', 0)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-1,5-6', 1000)).toBeUndefined(); // multi-range: whole file
    expect(parseRange('items=0-1', 1000)).toBeUndefined();
    expect(parseRange('bytes=9-5', 1000)).toBeUndefined();
    expect(parseRange('bytes=abc', 1000)).toBeUndefined();
    expect(parseRange('bytes=-', 1000)).toBeUndefined();
  });
});

describe('HttpServer on loopback', () => {
  let dir: string;
  let root: string;
  let server: HttpServer;
  let port: number;
  const events: BootEvent[] = [];
  const tel = new Telemetry();
  tel.on('event', (e: BootEvent) => events.push(e));
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff;
  const resets: string[] = [];
  const tokens = new ResetTokens(randomBytes(32));
  /** The reset URL a host at 127.0.0.1 finds in its script. */
  const resetPath = (mac: string, enc = mac) => `/reset/${enc}?token=${tokens.issue(mac, '127.0.0.1')}`;

  const hooks: HttpHooks = {
    file(path, client) {
      const m = /^boot\/([0-9a-f:]{17})\.ipxe$/.exec(path);
      if (!m) return undefined;
      return Promise.resolve({ contentType: 'text/plain; charset=utf-8', body: `#!ipxe\necho for ${m[1]} from ${client.address}\n`, mac: m[1] });
    },
    macFor: (ip) => (ip === '127.0.0.1' ? '52:54:00:00:00:01' : undefined),
    // The hosts with a reset "are" this machine, so their requests come from the host itself.
    ipFor: (mac) => (/^52:54:00:77:00:1[0-2]$/.test(mac) ? '127.0.0.1' : undefined),
    checkResetToken: (mac, address, token) => tokens.check(mac, address, token),
    resetArgv(mac) {
      if (mac === MAC) return { name: 'pc01', argv: [process.execPath, '-e', `require('fs').writeFileSync(process.argv[1], process.argv.slice(2).join('|'))`, join(dir, 'reset.out'), 'pc01', '$(touch /tmp/lanboot-pwned)', ';', 'x'] };
      if (mac === '52:54:00:77:00:11') return { name: 'pc02', argv: [process.execPath, '-e', 'process.stderr.write("disk busy"); process.exit(3)'] };
      if (mac === '52:54:00:77:00:12') return { name: 'pc03', argv: ['/nonexistent/lanboot-reset'] };
      return undefined;
    },
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lb-http-'));
    root = join(dir, 'root');
    mkdirSync(join(root, 'images'), { recursive: true });
    writeFileSync(join(root, 'images', 'big.img'), big);
    writeFileSync(join(root, 'empty.bin'), '');
    writeFileSync(join(dir, 'secret.txt'), 'secret');
    symlinkSync(join(dir, 'secret.txt'), join(root, 'escape.txt'));
    symlinkSync(join(root, 'images', 'big.img'), join(root, 'inside.img'));
    server = new HttpServer({ address: '127.0.0.1', port: 0, root }, silent, tel, hooks, { resetTimeoutMs: 5000 });
    ({ port } = await server.start());
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the generated script with the MAC from the URL (percent-encoded colons as iPXE sends them)', async () => {
    events.length = 0;
    const r = await get(port, '/boot/52%3A54%3A00%3A77%3A00%3A10.ipxe');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(`#!ipxe\necho for ${MAC} from 127.0.0.1\n`);
    expect(r.headers['content-length']).toBe(String(r.body.length));
    expect(r.headers['cache-control']).toBe('no-store');
    const ev = events.find((e) => e.event === 'http.script');
    expect(ev).toMatchObject({ svc: 'http', mac: MAC, status: 200, bytes: r.body.length });
  });

  it('streams a whole file with its exact length and reports http.file with the bytes sent', async () => {
    events.length = 0;
    const r = await get(port, '/images/big.img');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(big.length));
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.body.equals(big)).toBe(true);
    await new Promise((res) => setTimeout(res, 20));
    const ev = events.find((e) => e.event === 'http.file');
    // MAC from the lease table (hooks.macFor) when the URL has none
    expect(ev).toMatchObject({ mac: '52:54:00:00:00:01', bytes: big.length, size: big.length, status: 200 });
  });

  it('answers single ranges with 206, Content-Range and exactly those bytes', async () => {
    for (const [h, s, e] of [
      ['bytes=0-0', 0, 0],
      ['bytes=1000-1999', 1000, 1999],
      ['bytes=3145000-', 3145000, big.length - 1],
      ['bytes=-17', big.length - 17, big.length - 1],
    ] as const) {
      const r = await get(port, '/images/big.img', { headers: { Range: h } });
      expect(r.status, h).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes ${s}-${e}/${big.length}`);
      expect(r.headers['content-length']).toBe(String(e - s + 1));
      expect(r.body.equals(big.subarray(s, e + 1)), h).toBe(true);
    }
  });

  it('ranged reads of a file after the first are not boot events (sanboot reads thousands, out of order), yet bytes are counted', async () => {
    events.length = 0;
    const before = tel.counters.get('lanboot_http_bytes_total{"kind":"file"}')?.value ?? 0;
    await get(port, '/inside.img', { headers: { Range: 'bytes=32768-33279' } });
    await get(port, '/inside.img', { headers: { Range: 'bytes=0-511' } });
    await get(port, '/inside.img', { headers: { Range: 'bytes=512-1023' } });
    await new Promise((res) => setTimeout(res, 20));
    expect(events.filter((e) => e.event === 'http.file').map((e) => e.range)).toEqual(['32768-33279']);
    expect(tel.counters.get('lanboot_http_bytes_total{"kind":"file"}')?.value).toBe(before + 1536);
  });

  it('416 with bytes */size for a range past the end; multi-range and stale If-Range get the whole file', async () => {
    const r = await get(port, '/images/big.img', { headers: { Range: `bytes=${big.length}-` } });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe(`bytes */${big.length}`);
    const m = await get(port, '/images/big.img', { headers: { Range: 'bytes=0-1,5-6' } });
    expect(m.status).toBe(200);
    expect(m.body.length).toBe(big.length);
    const stale = await get(port, '/images/big.img', { headers: { Range: 'bytes=0-1', 'If-Range': '"nope"' } });
    expect(stale.status).toBe(200);
    const head = await get(port, '/images/big.img', { method: 'HEAD' });
    const fresh = await get(port, '/images/big.img', { headers: { Range: 'bytes=0-1', 'If-Range': String(head.headers.etag) } });
    expect(fresh.status).toBe(206);
  });

  it('HEAD: headers with the full length, no body', async () => {
    const r = await get(port, '/images/big.img', { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(big.length));
    expect(r.body.length).toBe(0);
    const rr = await get(port, '/images/big.img', { method: 'HEAD', headers: { Range: 'bytes=10-19' } });
    expect(rr.status).toBe(206);
    expect(rr.headers['content-length']).toBe('10');
  });

  it('an empty file is 200 with length 0', async () => {
    const r = await get(port, '/empty.bin');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe('0');
  });

  it('stays inside http.root: .., encoded .., NUL, symlink escape are refused; an inside symlink works', async () => {
    expect((await get(port, '/%2e%2e/secret.txt')).status).toBe(403);
    expect((await get(port, '/images/..%2f..%2fsecret.txt')).status).toBe(403);
    expect((await get(port, '/images/big.img%00.txt')).status).toBe(403);
    const esc = await get(port, '/escape.txt');
    expect(esc.status).toBe(403);
    expect(esc.body.toString()).not.toContain('secret');
    expect((await get(port, '/inside.img', { headers: { Range: 'bytes=0-3' } })).body.equals(big.subarray(0, 4))).toBe(true);
    expect((await get(port, '/images')).status).toBe(404);
    expect((await get(port, '/nope.bin')).status).toBe(404);
    expect((await get(port, '/%zz')).status).toBe(400);
  });

  it('a failing hook is a 500 for that request only; the server keeps serving', async () => {
    const boom: HttpHooks = { file: () => Promise.reject(new Error('plan exploded')) };
    const s2 = new HttpServer({ address: '127.0.0.1', port: 0, root }, silent, tel, boom);
    const { port: p2 } = await s2.start();
    try {
      expect((await get(p2, '/boot/x.ipxe')).status).toBe(500);
      expect((await get(p2, '/boot/x.ipxe')).status).toBe(500);
      expect(tel.counters.get('lanboot_http_requests_total{"kind":"error","status":500}')?.value).toBeGreaterThanOrEqual(2);
    } finally {
      await s2.stop();
    }
    expect((await get(port, '/images/big.img', { method: 'HEAD' })).status).toBe(200);
  });

  it('refuses methods other than GET/HEAD for files', async () => {
    const r = await get(port, '/images/big.img', { method: 'PUT', body: 'x' });
    expect(r.status).toBe(405);
  });

  it('reset with the token from the host’s script runs the argv without a shell and logs the result', async () => {
    events.length = 0;
    rmSync('/tmp/lanboot-pwned', { force: true });
    const r = await get(port, resetPath(MAC), { method: 'POST' });
    expect(r.status).toBe(200);
    const j = JSON.parse(r.body.toString());
    expect(j).toMatchObject({ mac: MAC, name: 'pc01', ok: true, code: 0 });
    // Shell syntax arrived as literal arguments: nothing was executed.
    expect(readFileSync(join(dir, 'reset.out'), 'utf8')).toBe('pc01|$(touch /tmp/lanboot-pwned)|;|x');
    expect(() => readFileSync('/tmp/lanboot-pwned')).toThrow();
    const ev = events.find((e) => e.event === 'reset.done');
    expect(ev).toMatchObject({ mac: MAC, ok: true, via: 'http', code: 0 });
    resets.push(j.name);
  });

  it('reset by GET (iPXE: chain http://.../reset/MAC?token=...) answers with an iPXE script; failures are 500 with the reason', async () => {
    // Without the token, from the host's own address: refused, without naming anyone.
    const bare = await get(port, `/reset/${MAC.replace(/:/g, '%3A')}`);
    expect(bare.status).toBe(403);
    expect(bare.body.toString()).toBe('#!ipxe\necho lanboot: reset refused\n');
    const ok = await get(port, resetPath(MAC, MAC.replace(/:/g, '%3A')));
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toMatch(/^#!ipxe\necho lanboot: reset of pc01 done/);
    const fail = await get(port, resetPath('52:54:00:77:00:11', '52-54-00-77-00-11'));
    expect(fail.status).toBe(500);
    expect(fail.body.toString()).toMatch(/^#!ipxe\necho lanboot: reset of pc02 failed: exit 3/);
    const missing = await get(port, resetPath('52:54:00:77:00:12'), { method: 'POST' });
    expect(missing.status).toBe(500);
    expect(JSON.parse(missing.body.toString()).error).toMatch(/ENOENT/);
    expect((await get(port, resetPath('52:54:00:77:00:99'), { method: 'POST' })).status).toBe(403);
    expect((await get(port, '/reset/not-a-mac')).status).toBe(404);
  });
});
