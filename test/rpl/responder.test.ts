import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { Bench, answer, tempImages, SERVER_MAC } from './harness.js';
import type { SimResult } from './sim.js';
import { writePcap } from './pcap.js';
import { Wire } from './wire.js';
import { RplClientSim } from './sim.js';

const A = '02:52:50:4c:00:02';
const B = '02:52:50:4c:00:03';
const IPXE = '/usr/lib/ipxe/ipxe.pxe';

/** Memory at [load, load+len) must equal the file bytes; sequence numbers contiguous from 0. */
function expectImage(r: SimResult, parts: Array<{ load: number; data: Buffer }>, execute: number): void {
  expect(r.error).toBeUndefined();
  expect(r.problems).toEqual([]);
  expect(r.ok).toBe(true);
  expect(r.accepted).toEqual(Array.from({ length: r.blocks }, (_, i) => i));
  for (const p of parts) expect(r.memory.subarray(p.load, p.load + p.data.length).equals(p.data)).toBe(true);
  expect(r.execute).toBe(execute);
  expect(r.lastFlags).toBe(0xe0);
  // Nothing was written outside the files.
  const inside = (a: number) => parts.some((p) => a >= p.load && a < p.load + p.data.length);
  for (const [a, n] of r.writes) if (n) expect(inside(a) && inside(a + n - 1)).toBe(true);
}

describe('RPL responder (in memory, fake clock)', () => {
  it('loads Debian ipxe.pxe at 0x7C00 byte-exact, one load line with the stats', async () => {
    const { root } = tempImages({});
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: IPXE, offset: 0, load: 0x7c00 }], execute: 0x7c00 }));
    const sim = b.client({ mac: A });
    sim.start();
    b.run([sim]);
    const data = readFileSync(IPXE);
    expectImage(sim.result, [{ load: 0x7c00, data }], 0x7c00);
    expect(sim.result.blocks).toBe(Math.ceil(data.length / 1440));
    expect(sim.result.agreedMaxFrame).toBe(1500);
    expect(sim.result.serverMac).toBe(SERVER_MAC);
    b.clock.advance(2000); // settle: the load line is written once no re-request follows
    const loads = b.events.filter((e) => e.event === 'rpl.load');
    expect(loads).toHaveLength(1);
    expect(loads[0]).toMatchObject({ svc: 'rpl', mac: A, image: IPXE, bytes: data.length, frames: sim.result.blocks, rerequests: 0 });
    expect(typeof loads[0]!.duration_ms).toBe('number');
    expect(b.events.some((e) => e.event === 'rpl.found' && e.mac === A)).toBe(true);
    expect(b.logs.lines.filter((l) => l.event === 'rpl.load')).toHaveLength(1);
  });

  it('says whether a load was confirmed: only a request for the block after the last confirms it', () => {
    const { root } = tempImages({ 'img.bin': 30_000 }); // 21 blocks
    const img = { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 };
    const C = '02:52:50:4c:00:04';
    const b = new Bench(root);
    b.answers.set(A, answer(A, img)); // a ROM that jumps to the image and says nothing more
    b.answers.set(B, answer(B, img, { ackEvery: 8 })); // acknowledges its windows, not the last block
    b.answers.set(C, answer(C, img)); // asks for block 21 after the last one
    const sa = b.client({ mac: A });
    const sb = b.client({ mac: B });
    const pc = b.wire.port(C);
    pc.on('frame', (f: Buffer) => {
      if (f.readUInt16BE(19) === 2) pc.send(sfrFrame(C, SERVER_MAC, 0));
      if (f.readUInt16BE(19) === 0x20 && f[41]! & 0x80) pc.send(sfrFrame(C, SERVER_MAC, f.readUInt32BE(25) + 1));
    });
    pc.send(findFrame(C));
    sa.start();
    sb.start();
    b.run([sa, sb]);
    b.clock.advance(2000);
    const load = (mac: string) => b.events.find((e) => e.event === 'rpl.load' && e.mac === mac);
    expect(load(A)).toMatchObject({ confirmed: false, acked_blocks: 0, blocks: 21 });
    expect(load(B)).toMatchObject({ confirmed: false, acked_blocks: 16, blocks: 21 });
    expect(load(C)).toMatchObject({ confirmed: true, acked_blocks: 21, blocks: 21 });
    expect(b.logs.lines.find((l) => l.event === 'rpl.load' && l.mac === A)!.msg).toMatch(/not confirmed/);
    expect(b.counter('lanboot_rpl_loads_total', { result: 'confirmed' })).toBe(1);
    expect(b.counter('lanboot_rpl_loads_total', { result: 'unconfirmed' })).toBe(2);
  });

  it('a load to a spoofed MAC nobody owns is never counted as confirmed', () => {
    const { root } = tempImages({ 'img.bin': 30_000 });
    const b = new Bench(root);
    b.answers.set(B, answer(B, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }));
    const atk = b.wire.port('02:00:00:00:00:99');
    atk.send(findFrame(B));
    b.clock.advance(1);
    atk.send(sfrFrame(B, SERVER_MAC, 0));
    b.clock.advance(3000);
    expect(b.events.find((e) => e.event === 'rpl.load')).toMatchObject({ mac: B, confirmed: false });
    expect(b.counter('lanboot_rpl_loads_total', { result: 'confirmed' })).toBe(0);
  });

  it('paces data frames at pacing_us apart', () => {
    const { root } = tempImages({ 'img.bin': 30_000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }, { pacingUs: 500 }));
    const sim = b.client({ mac: A });
    sim.start();
    b.run([sim], 60_000, 0.05);
    expect(sim.result.ok).toBe(true);
    const times = b.wire.log.filter((e) => e.from === SERVER_MAC && e.frame.readUInt16BE(19) === 0x20).map((e) => e.at);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(0.5 - 1e-9);
  });

  it('survives loss: the client asks again from the lost block and the image is still byte-exact', () => {
    const { root, data } = tempImages({ 'img.bin': 100_000 });
    for (const nakOnGap of [true, false]) {
      const b = new Bench(root);
      b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }));
      const last = Math.ceil(100_000 / 1440) - 1;
      const sim = b.client({ mac: A, drop: [0, 5, 6, 40, last], nakOnGap });
      sim.start();
      b.run([sim]);
      expectImage(sim.result, [{ load: 0x2000, data: data['img.bin']! }], 0x2000);
      // with NAKs every loss costs a request; a silence-only ROM gets the rest on the first resend pass
      const want = nakOnGap ? 4 : 1;
      expect(sim.result.rerequests).toBe(want);
      b.clock.advance(2000);
      const load = b.events.find((e) => e.event === 'rpl.load')!;
      expect(load.rerequests).toBe(want);
      expect(load.frames as number).toBeGreaterThan(last + 1);
    }
  });

  it('serves two clients with different MACs at once, each its own image', () => {
    const { root, data } = tempImages({ 'a.bin': 60_000, 'b.bin': 45_000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'a.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }));
    b.answers.set(B, answer(B, { files: [{ path: 'b.bin', offset: 0, load: 0x7c00 }], execute: 0x7c00 }));
    const sa = b.client({ mac: A, drop: [3] });
    const sb = b.client({ mac: B });
    sa.start();
    sb.start();
    b.run([sa, sb]);
    expectImage(sa.result, [{ load: 0x2000, data: data['a.bin']! }], 0x2000);
    expectImage(sb.result, [{ load: 0x7c00, data: data['b.bin']! }], 0x7c00);
    // the two loads were interleaved, not one after the other
    const fdrDst = b.sent().filter((f) => f.readUInt16BE(19) === 0x20).map((f) => f[5]);
    const firstB = fdrDst.indexOf(0x03);
    expect(fdrDst.slice(firstB).includes(0x02)).toBe(true);
  });

  it('uses a 576-byte max frame when the client asks for it (blocks of 528)', () => {
    const { root, data } = tempImages({ 'img.bin': 20_000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }));
    const sim = b.client({ mac: A, maxFrame: 576 });
    sim.start();
    b.run([sim]);
    expectImage(sim.result, [{ load: 0x2000, data: data['img.bin']! }], 0x2000);
    expect(sim.result.agreedMaxFrame).toBe(576);
    expect(sim.result.largestPayload).toBeLessThanOrEqual(576);
    expect(sim.result.writes[0]![1]).toBe(528);
    expect(sim.result.blocks).toBe(Math.ceil(20_000 / 528));
  });

  it('uses the configured frame size when it is smaller than the client’s', () => {
    const { root } = tempImages({ 'img.bin': 5000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }, { frameSize: 1000, blockSize: 1468 }));
    const sim = b.client({ mac: A, maxFrame: 2048 });
    sim.start();
    b.run([sim]);
    expect(sim.result.ok).toBe(true);
    expect(sim.result.agreedMaxFrame).toBe(1000);
    expect(sim.result.writes[0]![1]).toBe(944);
  });

  it('sends nothing to an unknown MAC and logs it once per minute', () => {
    const { root } = tempImages({});
    const b = new Bench(root);
    const sim = b.client({ mac: B, findIntervalMs: 1000 });
    sim.start();
    b.clock.advance(150_000);
    sim.stop();
    expect(b.sent()).toHaveLength(0);
    expect(sim.result.serverMac).toBeUndefined();
    const lines = b.logs.lines.filter((l) => l.event === 'rpl.unknown');
    expect(lines.length).toBe(3); // t=0, 60 s, 120 s
    expect(lines[0]!.mac).toBe(B);
    expect(b.counter('lanboot_rpl_unknown_clients_total')).toBeGreaterThanOrEqual(150);
  });

  it('loads several files, each at its own address, with offset and length', () => {
    const { root, data } = tempImages({ 'k.bin': 10_000, 'r.bin': 3000 });
    const b = new Bench(root);
    b.answers.set(
      A,
      answer(A, {
        files: [
          { path: 'k.bin', offset: 512, length: 4000, load: 0x1000 },
          { path: 'r.bin', offset: 0, load: 0x9000 },
        ],
        execute: 0x1006,
      }),
    );
    const sim = b.client({ mac: A });
    sim.start();
    b.run([sim]);
    expectImage(
      sim.result,
      [
        { load: 0x1000, data: data['k.bin']!.subarray(512, 4512) },
        { load: 0x9000, data: data['r.bin']! },
      ],
      0x1006,
    );
    // a block never spans two files: 4000 = 1440+1440+1120, then 1440+1440+120
    expect(sim.result.writes.map((w) => w[1])).toEqual([1440, 1440, 1120, 1440, 1440, 120]);
  });

  it('sets ACK-REQUEST every N blocks (not on the last) and waits for the acknowledgement', () => {
    const { root, data } = tempImages({ 'img.bin': 30_000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }, { ackEvery: 8 }));
    const sim = b.client({ mac: A });
    sim.start();
    b.run([sim]);
    expectImage(sim.result, [{ load: 0x2000, data: data['img.bin']! }], 0x2000);
    const fdr = b.sent().filter((f) => f.readUInt16BE(19) === 0x20);
    const acked = fdr.filter((f) => f[41]! & 0x10).map((f) => f.readUInt32BE(25));
    expect(acked).toEqual([7, 15]); // 21 blocks: 0..20
  });

  it('re-sends an unacknowledged ACK-REQUEST block once', () => {
    const { root } = tempImages({ 'img.bin': 30_000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }, { ackEvery: 4 }));
    // a client that never acknowledges: it is a raw port, we drive it by hand
    const { frames } = rawClient(b.wire.port(A), A);
    b.clock.advance(5000);
    const seqs = frames().filter((f) => f.readUInt16BE(19) === 0x20).map((f) => f.readUInt32BE(25));
    expect(seqs).toEqual([0, 1, 2, 3, 3]);
  });

  it('accepts SEND.FILE.REQUEST on SAP 0xF8', () => {
    const { root, data } = tempImages({ 'img.bin': 9000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }));
    const sim = b.client({ mac: A, requestSap: 0xf8 });
    sim.start();
    b.run([sim]);
    expectImage(sim.result, [{ load: 0x2000, data: data['img.bin']! }], 0x2000);
  });

  it('finishes an in-flight load on the old settings after a config reload', () => {
    const { root, data } = tempImages({ 'old.bin': 50_000, 'new.bin': 50_000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'old.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }, { pacingUs: 1000 }));
    const sim = b.client({ mac: A });
    sim.start();
    b.clock.advance(5);
    // reload: same host now gets another image at another address
    const newer = new Map([[A, answer(A, { files: [{ path: 'new.bin', offset: 0, load: 0x7c00 }], execute: 0x7c00 })]]);
    b.responder.setPlan({ rpl: (m) => newer.get(m) });
    b.run([sim]);
    expectImage(sim.result, [{ load: 0x2000, data: data['old.bin']! }], 0x2000);
  });

  it('PROGRAM.ALERT aborts the session', () => {
    const { root } = tempImages({ 'img.bin': 50_000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }, { pacingUs: 2000 }));
    const port = b.wire.port(A);
    const { frames, send } = rawClient(port, A);
    b.clock.advance(5);
    expect(b.responder.sessionCount).toBe(1);
    send(alertFrame(A, SERVER_MAC));
    b.clock.advance(1);
    const before = frames().length;
    b.clock.advance(100);
    expect(frames().length).toBe(before);
    expect(b.responder.sessionCount).toBe(0);
    expect(b.events.find((e) => e.event === 'rpl.abort')).toMatchObject({ mac: A, reason: 'alert' });
  });

  it('forgets a client that sends no request after FOUND once session_timeout has passed', () => {
    const { root } = tempImages({ 'img.bin': 50_000 });
    const b = new Bench(root, { session_timeout: 10 });
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }));
    b.wire.port(A).send(findFrame(A)); // and never a SEND.FILE.REQUEST
    b.clock.advance(9000);
    expect(b.responder.sessionCount).toBe(1);
    b.clock.advance(2000);
    expect(b.responder.sessionCount).toBe(0);
    expect(b.logs.lines.find((l) => l.event === 'rpl.expire')).toMatchObject({ mac: A, reason: 'timeout' });
    // (a load that stops getting requests ends sooner: see hostile.test.ts)
  });

  it('still answers a re-request for the final blocks after the load, then forgets the client', () => {
    const { root } = tempImages({ 'img.bin': 5000 });
    const b = new Bench(root, { session_timeout: 10 });
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }));
    const port = b.wire.port(A);
    const { frames, send } = rawClient(port, A);
    b.clock.advance(3000);
    expect(b.events.filter((e) => e.event === 'rpl.load')).toHaveLength(1);
    const n = frames().length;
    send(sfrFrame(A, SERVER_MAC, 2));
    b.clock.advance(10);
    const resent = frames().slice(n).map((f) => [f.readUInt32BE(25), f[41]]);
    expect(resent).toEqual([
      [2, 0x20],
      [3, 0xe0],
    ]); // 5000 bytes = 4 blocks: go back to 2 resends 2 and 3
  });

  it('ignores a request beyond highest+1 and requests without a session', () => {
    const { root } = tempImages({ 'img.bin': 50_000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }, { ackEvery: 2 }));
    const port = b.wire.port(A);
    const { frames, send } = rawClient(port, A);
    b.clock.advance(10);
    const n = frames().length;
    send(sfrFrame(A, SERVER_MAC, 9));
    b.clock.advance(10);
    expect(frames().length).toBe(n);
    expect(b.counter('lanboot_rpl_dropped_total', { reason: 'sequence_ahead' })).toBe(1);
    const other = b.wire.port(B);
    other.send(sfrFrame(B, SERVER_MAC, 0));
    b.clock.advance(10);
    expect(b.counter('lanboot_rpl_dropped_total', { reason: 'no_session' })).toBe(1);
  });

  it('a new FIND mid-load starts over cleanly', () => {
    const { root, data } = tempImages({ 'img.bin': 80_000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }, { pacingUs: 1000 }));
    const port = b.wire.port(A);
    rawClient(port, A);
    b.clock.advance(20); // ~20 blocks out
    b.wire.ports.splice(b.wire.ports.indexOf(port), 1); // the machine reboots
    const sim = b.client({ mac: A });
    sim.start();
    b.run([sim]);
    expectImage(sim.result, [{ load: 0x2000, data: data['img.bin']! }], 0x2000);
    expect(b.events.find((e) => e.event === 'rpl.abort')).toMatchObject({ reason: 'restarted' });
  });

  it('warns when the image does not fit below the client’s reported memory', () => {
    const { root } = tempImages({ 'img.bin': 100_000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x7c00 }], execute: 0x7c00 }));
    const sim = b.client({ mac: A, memoryKiB: 64 });
    sim.start();
    b.run([sim]);
    expect(b.logs.lines.some((l) => l.event === 'rpl.image_warning' && /reported free memory/.test(l.warning))).toBe(true);
  });

  it('loadViews() shows a load in progress and its progress', () => {
    const { root } = tempImages({ 'img.bin': 50_000 });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }, { pacingUs: 1000 }));
    const sim = b.client({ mac: A });
    sim.start();
    b.clock.advance(10.5);
    const [v] = b.responder.loadViews();
    expect(v).toMatchObject({ mac: A, iface: 'veth-test', file: 'img.bin', size: 50_000, frameSize: 1500, blockSize: 1440, state: 'loading' });
    expect(v!.bytes).toBeGreaterThan(0);
    expect(v!.bytes).toBeLessThan(50_000);
    expect(Math.abs(v!.started - Date.now())).toBeLessThan(5000);
    b.run([sim]);
    expect(b.responder.loadViews()[0]).toMatchObject({ bytes: 50_000, frames: 35 });
  });

  it('serves several interfaces at once, answering each client on its own link', () => {
    const { root, data } = tempImages({ 'img.bin': 20_000 });
    const b = new Bench(root);
    const wire2 = new Wire(b.clock);
    const port2 = wire2.port('02:52:50:4c:00:99');
    (port2 as unknown as { mtu: number }).mtu = 1000; // a smaller MTU caps the frame size
    b.responder.attach(port2, 'veth-two');
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }));
    b.answers.set(B, answer(B, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }));
    const sa = b.client({ mac: A });
    const sb = new RplClientSim(wire2.port(B), b.clock, { mac: B });
    sa.start();
    sb.start();
    b.run([sa, sb]);
    expectImage(sa.result, [{ load: 0x2000, data: data['img.bin']! }], 0x2000);
    expectImage(sb.result, [{ load: 0x2000, data: data['img.bin']! }], 0x2000);
    expect(sa.result.serverMac).toBe(SERVER_MAC);
    expect(sb.result.serverMac).toBe('02:52:50:4c:00:99');
    expect(sb.result.agreedMaxFrame).toBe(1000);
    expect(wire2.sentBy(SERVER_MAC)).toHaveLength(0); // nothing crossed over
    const loads = b.events.filter((e) => e.event === 'rpl.found').map((e) => [e.mac, e.iface]);
    expect(loads).toEqual([
      [A, 'veth-test'],
      [B, 'veth-two'],
    ]);
  });

  it('tshark decodes every frame it sends as RPL, without malformed or expert warnings', () => {
    const { root } = tempImages({ 'img.bin': 7000, 'tiny.bin': Buffer.from([0xeb, 0xfe]) });
    const b = new Bench(root);
    b.answers.set(A, answer(A, { files: [{ path: 'img.bin', offset: 0, load: 0x2000 }], execute: 0x2000 }, { ackEvery: 2 }));
    b.answers.set(B, answer(B, { files: [{ path: 'tiny.bin', offset: 0, load: 0x7c00 }], execute: 0x7c00 }));
    const sa = b.client({ mac: A, drop: [1] });
    const sb = b.client({ mac: B, maxFrame: 576 });
    sa.start();
    sb.start();
    b.run([sa, sb]);
    expect(sa.result.ok && sb.result.ok).toBe(true);
    const frames = b.sent();
    const file = join(tmpdir(), `lb-rpl-${process.pid}.pcap`);
    writePcap(file, frames);
    const out = execFileSync('tshark', ['-r', file, '-V', '-o', 'gui.column.format:"Info","%i"'], { encoding: 'utf8' });
    expect(out).not.toMatch(/malformed/i);
    expect(out).not.toMatch(/Expert Info/i);
    const summary = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', '_ws.col.Protocol', '-e', 'rpl.type'], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(summary).toHaveLength(frames.length);
    for (const line of summary) expect(line).toMatch(/^RPL\t(2|32),/);
    expect(frames.every((f) => f.length >= 60)).toBe(true);
  });
});

// --------------------------------------------------------------- raw client helpers
import type { Port } from './wire.js';
import { findFrame, sfrFrame, alertFrame } from './harness.js';

/** A client that sends FIND, then SFR(0) on FOUND, and never acknowledges anything. */
function rawClient(port: Port, mac: string) {
  const got: Buffer[] = [];
  port.on('frame', (f: Buffer) => {
    got.push(f);
    if (f.readUInt16BE(19) === 2) port.send(sfrFrame(mac, SERVER_MAC, 0));
  });
  port.send(findFrame(mac));
  return { frames: () => got, send: (f: Buffer) => port.send(f) };
}
