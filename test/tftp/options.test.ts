import { describe, expect, it } from 'vitest';
import { negotiate } from '../../src/tftp/options.js';
import { RtoEstimator } from '../../src/tftp/rto.js';
import { NetasciiDecoder, toNetascii } from '../../src/tftp/netascii.js';

const lim = { blksizeMax: 65464, windowsizeMax: 64, refuse: [] as string[], tsize: 1000 };

describe('negotiate', () => {
  it('echoes only asked options, in order and spelling', () => {
    const n = negotiate('RRQ', [['TSize', '0'], ['blksize', '1432']], lim);
    expect(n.oack).toEqual([['TSize', '1000'], ['blksize', '1432']]);
    expect(n).toMatchObject({ blksize: 1432, windowsize: 1, tsizeAsked: true });
    expect(negotiate('RRQ', [], lim).oack).toEqual([]);
  });
  it('caps blksize by the limit and ignores out-of-range values', () => {
    expect(negotiate('RRQ', [['blksize', '9000']], { ...lim, blksizeMax: 1468 }).blksize).toBe(1468);
    expect(negotiate('RRQ', [['blksize', '7']], lim).oack).toEqual([]);
    expect(negotiate('RRQ', [['blksize', '70000']], lim).blksize).toBe(65464);
    expect(negotiate('RRQ', [['timeout', '0'], ['timeout', '5']], lim).oack).toEqual([]); // first wins, invalid
    expect(negotiate('RRQ', [['windowsize', 'x']], lim).oack).toEqual([]);
  });
  it('honours timeout up to the cap; above it the option is left out (RFC 2349: echoed unchanged or not at all)', () => {
    expect(negotiate('RRQ', [['timeout', '5']], { ...lim, timeoutMax: 5 })).toMatchObject({ timeout: 5, oack: [['timeout', '5']] });
    const over = negotiate('WRQ', [['timeout', '255'], ['blksize', '1024']], { ...lim, timeoutMax: 5 });
    expect(over.timeout).toBeUndefined();
    expect(over.oack).toEqual([['blksize', '1024']]);
    expect(negotiate('RRQ', [['timeout', '255']], lim).timeout).toBe(255); // no cap given: RFC 2349's own range
    expect(negotiate('RRQ', [['timeout', '256']], lim).oack).toEqual([]);
  });
  it('refuses options by policy', () => {
    expect(negotiate('RRQ', [['tsize', '0'], ['windowsize', '8']], { ...lim, refuse: ['tsize'] }).oack).toEqual([['windowsize', '8']]);
  });
  it('shrinks the window to the byte budget, whatever the option order', () => {
    const n = negotiate('RRQ', [['windowsize', '64'], ['blksize', '8192']], { ...lim, windowBytesMax: 65536 });
    expect(n.windowsize).toBe(8);
    expect(n.oack).toEqual([['windowsize', '8'], ['blksize', '8192']]);
    expect(negotiate('RRQ', [['windowsize', '4'], ['blksize', '65464']], { ...lim, windowBytesMax: 65536 }).windowsize).toBe(1);
  });
  it('leaves out tsize for an empty file (curl rejects tsize 0)', () => {
    expect(negotiate('RRQ', [['tsize', '0']], { ...lim, tsize: 0 }).oack).toEqual([]);
  });
  it('checks an upload tsize against the limit', () => {
    expect(negotiate('WRQ', [['tsize', '5000']], { ...lim, maxUpload: 4000 }).refuse).toBeDefined();
    expect(negotiate('WRQ', [['tsize', '3000']], { ...lim, maxUpload: 4000 }).oack).toEqual([['tsize', '3000']]);
  });
});

describe('RTO (RFC 6298 style)', () => {
  it('starts at the configured timeout, follows samples, backs off and recovers', () => {
    const r = new RtoEstimator(1000, 50, 4000);
    expect(r.rto).toBe(1000);
    r.sample(10);
    expect(r.rto).toBe(50); // 10 + 4*5 = 30 -> floor 50
    r.sample(200);
    expect(r.rto).toBeGreaterThan(200);
    const before = r.rto;
    r.timedOut();
    expect(r.rto).toBe(Math.min(4000, before * 2));
    r.progressed();
    expect(r.rto).toBe(before);
    for (let i = 0; i < 20; i++) r.timedOut();
    expect(r.rto).toBe(4000);
  });
});

describe('netascii', () => {
  it('encodes LF as CR LF and CR as CR NUL, and decodes across block edges', () => {
    const src = Buffer.from('a\nb\rc\r\n');
    const enc = toNetascii(src);
    expect(enc.toString('latin1')).toBe('a\r\nb\r\0c\r\0\r\n');
    const d = new NetasciiDecoder();
    const parts = [enc.subarray(0, 2), enc.subarray(2, 5), enc.subarray(5)].map((p) => d.push(p));
    expect(Buffer.concat([...parts, d.end()]).equals(src)).toBe(true);
  });
});

describe('interface MTU cap', () => {
  it('finds loopback for a loopback peer and reads its MTU', async () => {
    const { interfaceMtu } = await import('../../src/net/interfaces.js');
    const fs = await import('node:fs');
    const lo = Number(fs.readFileSync('/sys/class/net/lo/mtu', 'utf8'));
    expect(interfaceMtu('127.0.0.1', '0.0.0.0')).toBe(lo);
    // an unroutable peer falls back to something sane
    expect(interfaceMtu('203.0.113.9', '127.0.0.1')).toBeGreaterThanOrEqual(576);
  });
});
