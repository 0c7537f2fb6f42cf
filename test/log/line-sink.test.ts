import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LineSink } from '../../src/log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function file(): { path: string; fd: number } {
  const d = mkdtempSync(join(tmpdir(), 'lb-linesink-'));
  dirs.push(d);
  const path = join(d, 'log');
  return { path, fd: openSync(path, 'w') };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('LineSink', () => {
  it('writes every line, in order, after the loop iteration that logged them', async () => {
    const f = file();
    const sink = new LineSink(f.fd);
    for (let i = 0; i < 1000; i++) sink.write(`{"n":${i}}\n`);
    expect(readFileSync(f.path, 'utf8')).toBe(''); // nothing yet: one write for the whole batch
    await tick();
    const lines = readFileSync(f.path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1000);
    expect(lines.map((l) => JSON.parse(l).n)).toEqual([...Array(1000).keys()]);
    closeSync(f.fd);
  });

  it('bounds what waits: lines past maxBytes are dropped, counted and reported once there is room', async () => {
    const f = file();
    const sink = new LineSink(f.fd, 250);
    const line = (i: number) => `{"level":30,"n":${i},"pad":"${'x'.repeat(20)}"}\n`; // 42 bytes
    for (let i = 0; i < 10; i++) sink.write(line(i));
    expect(sink.dropped).toBe(5);
    await tick();
    sink.write(line(10));
    await tick();
    const lines = readFileSync(f.path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.n)).toEqual([0, 1, 2, 3, 4, 10, undefined]);
    expect(lines.at(-1)).toMatchObject({ event: 'log.dropped', lines: 5, level: 40 });
    closeSync(f.fd);
  });

  it('flushSync writes what is queued (process exit)', () => {
    const f = file();
    const sink = new LineSink(f.fd);
    sink.write('{"a":1}\n');
    sink.flushSync();
    expect(readFileSync(f.path, 'utf8')).toBe('{"a":1}\n');
    closeSync(f.fd);
  });
});
