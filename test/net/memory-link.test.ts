import { describe, expect, it } from 'vitest';
import {
  MemorySegment,
  PACKET_BROADCAST,
  PACKET_HOST,
  PACKET_MULTICAST,
  PACKET_OTHERHOST,
  type FrameLink,
} from '../../src/net/packet.js';
import { encode } from '../../src/codec/ethernet.js';

const frame = (dst: string, src: string, text: string): Buffer =>
  encode({ kind: 'ethernet', dst, src, ethertype: 0x88b5, payload: Buffer.from(text) });

function inbox(link: FrameLink): Array<[string, number]> {
  const got: Array<[string, number]> = [];
  link.on('frame', (f, t) => got.push([f.subarray(14, 14 + 2).toString(), t]));
  return got;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('MemorySegment', () => {
  it('delivers asynchronously with kernel-like packet types', async () => {
    const seg = new MemorySegment();
    const a = seg.attach('02:00:00:00:00:0A');
    const b = seg.attach('02:00:00:00:00:0b');
    const spy = seg.attach('02:00:00:00:00:0c', { promiscuous: true });
    const gotB = inbox(b);
    const gotSpy = inbox(spy);
    const gotA = inbox(a);
    expect(a.mac).toBe('02:00:00:00:00:0a');
    a.send(frame(b.mac, a.mac, 'u1'));
    a.send(frame('ff:ff:ff:ff:ff:ff', a.mac, 'b1'));
    a.send(frame('03:00:02:00:00:00', a.mac, 'm1'));
    expect(gotB).toEqual([]); // not synchronous
    await tick();
    expect(gotB).toEqual([['u1', PACKET_HOST], ['b1', PACKET_BROADCAST], ['m1', PACKET_MULTICAST]]);
    expect(gotSpy).toEqual([['u1', PACKET_OTHERHOST], ['b1', PACKET_BROADCAST], ['m1', PACKET_MULTICAST]]);
    expect(gotA).toEqual([]); // never our own sends
    expect(a.sent.length).toBe(3);
  });

  it('stops delivering after close and refuses sends on a closed link', async () => {
    const seg = new MemorySegment();
    const a = seg.attach('02:00:00:00:00:01');
    const b = seg.attach('02:00:00:00:00:02');
    const got = inbox(b);
    a.send(frame(b.mac, a.mac, 'x1'));
    b.close(); // frame already in flight must not arrive
    await tick();
    expect(got).toEqual([]);
    expect(() => b.send(frame(a.mac, b.mac, 'x2'))).toThrow(/closed/);
    expect(() => a.send(Buffer.alloc(3))).toThrow(TypeError);
    expect(() => seg.attach('nope')).toThrow();
  });

  it('copies frames so a sender reusing its buffer cannot change what was sent', async () => {
    const seg = new MemorySegment();
    const a = seg.attach('02:00:00:00:00:01');
    const b = seg.attach('02:00:00:00:00:02');
    const got = inbox(b);
    const buf = frame(b.mac, a.mac, 'k1');
    a.send(buf);
    buf.write('zz', 14);
    await tick();
    expect(got).toEqual([['k1', PACKET_HOST]]);
  });
});
