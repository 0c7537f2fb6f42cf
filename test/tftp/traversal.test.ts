/** Traversal corpus: nothing outside the root is ever served, whatever the name. */
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawPeer, startServer, tmpdir, type Started } from './helpers.js';
import { sanitizeName } from '../../src/tftp/paths.js';

let base: string;
let root: string;
let srv: Started;
const SECRET = 'TOP-SECRET-OUTSIDE-ROOT';

beforeAll(async () => {
  base = tmpdir('lb-tftp-trav-');
  root = path.join(base, 'root');
  fs.mkdirSync(path.join(root, 'sub', 'deep'), { recursive: true });
  fs.mkdirSync(path.join(base, 'outside'));
  fs.writeFileSync(path.join(base, 'secret'), SECRET);
  fs.writeFileSync(path.join(base, 'outside', 'secret'), SECRET);
  fs.writeFileSync(path.join(root, 'inside.txt'), 'inside');
  fs.writeFileSync(path.join(root, 'sub', 'deep', 'ok.txt'), 'deep');
  fs.symlinkSync(path.join(base, 'secret'), path.join(root, 'link-out'));
  fs.symlinkSync('../secret', path.join(root, 'rel-link-out'));
  fs.symlinkSync(path.join(base, 'outside'), path.join(root, 'dirlink'));
  fs.symlinkSync('inside.txt', path.join(root, 'link-in'));
  fs.symlinkSync('/etc/passwd', path.join(root, 'passwd-link'));
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  srv = await startServer({ root });
});
afterAll(async () => {
  await srv?.stop();
  fs.rmSync(base, { recursive: true, force: true });
});

const corpus = [
  '../secret',
  '../../secret',
  '/../secret',
  '..\\secret',
  '\\..\\secret',
  'sub/../../secret',
  'sub\\..\\..\\secret',
  'sub/deep/../../../secret',
  './../secret',
  '.../secret',
  '..%2fsecret',
  '%2e%2e/secret',
  'C:\\..\\secret',
  '/etc/passwd',
  '\\etc\\passwd',
  '../../../../../../../../etc/passwd',
  '//..//..//secret',
  'link-out',
  'rel-link-out',
  'dirlink/secret',
  '/dirlink/secret',
  'passwd-link',
  'sub/../link-out',
  'fifo',
  'sub',
  '/',
  '.',
  '..',
  'inside.txt\x01',
  'a'.repeat(300),
  ('a/'.repeat(600)) + 'x',
  '\xff\xfe../secret',
  'sub/deep/' + '../'.repeat(10) + 'secret',
];

describe('root confinement', () => {
  it('sanitizes names', () => {
    expect(sanitizeName('/sub\\deep//./ok.txt')).toEqual({ ok: true, rel: 'sub/deep/ok.txt' });
    expect(sanitizeName('/srv/tftp/pxelinux.0', '/srv/tftp')).toEqual({ ok: true, rel: 'pxelinux.0' });
    expect(sanitizeName('a/../b').ok).toBe(false);
    expect(sanitizeName('a\\..\\b').ok).toBe(false);
    expect(sanitizeName('x'.repeat(2000)).ok).toBe(false);
    expect(sanitizeName('a\x00b').ok).toBe(false);
  });

  it('serves 0 bytes from outside the root for the whole corpus', async () => {
    const peer = await new RawPeer().bind();
    let leaked = 0;
    const answers: Record<string, string> = {};
    for (const name of corpus) {
      peer.rrq(srv.port, name, [['tsize', '0']]);
      const m = await peer.recv(3000);
      expect(m, name).not.toBeNull();
      const p = m!.p!;
      answers[name] = p.op === 'ERROR' ? `ERROR ${p.code}` : p.op;
      if (p.op === 'OACK') {
        // accepted: must be a file inside (none in this corpus is)
        peer.send({ op: 'ACK', block: 0 }, m!.port);
        const d = await peer.recv(3000);
        if (d?.p?.op === 'DATA') {
          if (d.p.data.toString().includes(SECRET) || d.p.data.toString().includes('root:')) leaked += d.p.data.length;
          peer.send({ op: 'ERROR', code: 0, message: 'stop' }, d.port);
        }
      }
      if (p.op === 'DATA') leaked += p.data.length;
    }
    expect(leaked).toBe(0);
    for (const [n, a] of Object.entries(answers)) expect(a, n).toMatch(/^ERROR [12]$/);
    peer.close();
  });

  it('still serves legitimate names, including symlinks that stay inside', async () => {
    const peer = await new RawPeer().bind();
    for (const [name, body] of [
      ['inside.txt', 'inside'],
      ['/inside.txt', 'inside'],
      ['\\sub\\deep\\ok.txt', 'deep'],
      ['link-in', 'inside'],
      [path.join(root, 'inside.txt'), 'inside'],
    ] as const) {
      peer.rrq(srv.port, name);
      const m = await peer.recv();
      expect(m?.p, name).toMatchObject({ op: 'DATA', block: 1 });
      expect((m!.p as { data: Buffer }).data.toString()).toBe(body);
      peer.send({ op: 'ACK', block: 1 }, m!.port);
    }
    peer.close();
  });
});
