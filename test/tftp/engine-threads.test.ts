/**
 * The native engine's thread hand-offs, through the addon directly: an abort
 * that overtakes the start, an abort of a running transfer, and many starts
 * at once. The promise checked: after engineAbort the port is free and no
 * onDone ever follows; every other transfer reports exactly once.
 */
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { EnginePorts, engineAbort, engineFlush, engineUnavailable, type EngineStats } from '../../src/tftp/engine.js';

const base = {
  size: 100_000,
  localAddress: '127.0.0.1',
  peerAddress: '127.0.0.1',
  blksize: 512,
  windowsize: 1,
  rtoInitialMs: 200,
  rtoMinMs: 50,
  rtoMaxMs: 1000,
  retries: 3,
  giveUpMs: 600,
  noProgressMs: 60_000,
};
const data = Buffer.alloc(100_000, 7);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function canBind(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function peer(): Promise<{ sock: dgram.Socket; port: number; got: Buffer[] }> {
  const sock = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { sock, port: sock.address().port, got };
}

describe.skipIf(engineUnavailable() !== undefined)('native TFTP engine thread', () => {
  it('an abort straight after the start (often before the engine thread has it) frees the port; no onDone', async () => {
    const p = await peer();
    const ports = new EnginePorts([47100, 47110]);
    const calls: EngineStats[] = [];
    const { handle, port } = ports.start({ ...base, data, peerPort: p.port }, (s) => calls.push(s));
    const s = engineAbort(handle);
    expect(s?.outcome).toBe('aborted');
    expect(await canBind(port)).toBe(true);
    engineFlush();
    await sleep(100);
    expect(calls).toEqual([]);
    p.sock.close();
  });

  it('an abort of a running transfer stops its DATA at once', async () => {
    const p = await peer();
    const calls: EngineStats[] = [];
    const { handle, port } = new EnginePorts().start({ ...base, data, peerPort: p.port }, (s) => calls.push(s));
    // DATA 1 goes out; nobody ACKs, so the timer would retransmit.
    for (let t = 0; t < 100 && p.got.length === 0; t++) await sleep(20);
    expect(p.got.length).toBeGreaterThan(0);
    engineAbort(handle);
    const seen = p.got.length;
    await sleep(400);
    expect(p.got.length).toBe(seen);
    expect(calls).toEqual([]);
    expect(await canBind(port)).toBe(true);
    p.sock.close();
  });

  it('200 transfers started at once each report exactly once', async () => {
    const p = await peer();
    p.sock.setRecvBufferSize(4 << 20);
    // The peer answers every DATA with its ACK: 200 lock-step transfers of 100,000 bytes.
    p.sock.removeAllListeners('message');
    p.sock.on('message', (m, r) => {
      if (m.readUInt16BE(0) === 3) p.sock.send(Buffer.from([0, 4, m[2]!, m[3]!]), r.port, r.address);
    });
    const done = new Map<number, EngineStats[]>();
    for (let i = 0; i < 200; i++) {
      done.set(i, []);
      // Patient timers: one JS socket ACKs all 200, and a busy machine may stall it for a while.
      new EnginePorts().start({ ...base, retries: 20, giveUpMs: 30_000, rtoMinMs: 200, data, peerPort: p.port }, (s) => done.get(i)!.push(s));
    }
    for (let t = 0; t < 1200 && [...done.values()].some((c) => c.length === 0); t++) await sleep(50);
    for (const [, c] of done) {
      expect(c.length).toBe(1);
      expect(c[0]).toMatchObject({ outcome: 'ok', bytes: 100_000 });
    }
    p.sock.close();
  }, 90_000);
});
