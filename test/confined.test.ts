/**
 * Started as root, lanboot could read every file on the machine; it serves
 * only what any local user could read: a file in the root that is not
 * world-readable (a key, a copied /etc/shadow) is refused by TFTP and HTTP
 * (issue 9.12).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silent } from '../src/log.js';
import { HttpServer } from '../src/http/server.js';
import { Telemetry } from '../src/telemetry.js';
import { RawPeer, startServer, type Started } from './tftp/helpers.js';

const isRoot = process.geteuid?.() === 0;

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe.skipIf(!isRoot)('files that are not world-readable are never served while running as root', () => {
  let dir: string;
  let tftp: Started;
  let http: HttpServer;
  let httpPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lb-readable-'));
    writeFileSync(join(dir, 'shadow'), 'root:$6$SECRET:19000:0:99999:7:::\n', { mode: 0o640 });
    writeFileSync(join(dir, 'ipxe.efi'), 'public boot file\n', { mode: 0o644 });
    writeFileSync(join(dir, 'later'), 'readable, then not\n', { mode: 0o644 });
    tftp = await startServer({ root: dir });
    http = new HttpServer({ address: '127.0.0.1', port: 0, root: dir }, silent, new Telemetry(), {
      file: () => undefined,
      macFor: () => undefined,
      ipFor: () => undefined,
      resetArgv: () => undefined,
    });
    ({ port: httpPort } = await http.start());
  });
  afterAll(async () => {
    await tftp?.stop();
    await http?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function tftpGet(name: string): Promise<string> {
    const peer = await new RawPeer().bind();
    try {
      peer.rrq(tftp.port, name);
      const m = await peer.recv();
      if (m?.p?.op === 'DATA') {
        peer.send({ op: 'ACK', block: m.p.block }, m.port);
        return `DATA ${m.p.data.toString()}`;
      }
      return m?.p?.op === 'ERROR' ? `ERROR ${m.p.code}` : String(m?.p?.op);
    } finally {
      peer.close();
    }
  }

  it('TFTP refuses it with access violation and serves the world-readable file beside it', async () => {
    expect(await tftpGet('shadow')).toBe('ERROR 2');
    expect(await tftpGet('ipxe.efi')).toBe('DATA public boot file\n');
  });

  it('HTTP refuses it and serves the world-readable file', async () => {
    const r = await httpGet(httpPort, '/shadow');
    expect(r.status).toBe(403);
    expect(r.body).not.toContain('SECRET');
    expect(await httpGet(httpPort, '/ipxe.efi')).toEqual({ status: 200, body: 'public boot file\n' });
  });

  it('a file made private after it was served (and cached) is refused from then on', async () => {
    expect(await tftpGet('later')).toBe('DATA readable, then not\n');
    chmodSync(join(dir, 'later'), 0o600);
    expect(await tftpGet('later')).toBe('ERROR 2');
    expect((await httpGet(httpPort, '/later')).status).toBe(403);
  });
});
