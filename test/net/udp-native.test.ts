/**
 * The native UDP server socket (native/lanboot_udp.c via net/udp
 * openServerUdp): batches in, local address per datagram, sendmmsg out.
 * Loopback in the test's own namespace; refusals in a namespace of its own.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openServerUdp, openUdp, type Received, type ServerUdp } from '../../src/net/udp.js';
import { loadNative } from '../../src/native.js';
import { NetnsScope } from '../helpers/netns.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const FIXTURE = join(import.meta.dirname, 'fixtures', 'udp-native-ns.ts');

interface Rx {
  sock: ServerUdp;
  got: Array<{ text: string; from: Received }>;
  dropped: Array<[string, number]>;
  errors: string[];
}

async function rx(address: string, opts: { maxAgeMs?: number } = {}): Promise<Rx> {
  const r: Omit<Rx, 'sock'> = { got: [], dropped: [], errors: [] };
  const sock = await openServerUdp({
    address,
    port: 0,
    rcvbuf: 1 << 20,
    maxAgeMs: opts.maxAgeMs,
    onMessage: (b, from) => r.got.push({ text: b.toString(), from }),
    onDropped: (reason, n) => r.dropped.push([reason, n]),
    onError: (e) => r.errors.push(String(e.code)),
    sender: { service: 'test', linkAddressKnown: () => true },
  });
  expect(sock.native).toBe(true);
  return { sock, ...r };
}

describe('native UDP server socket', () => {
  const net = new NetnsScope();
  afterAll(() => net.cleanup());

  it('reads a burst in batches of 64 with one JS call each, payloads and sources intact', async () => {
    // The addon itself, to see the calls: what openServerUdp splits into datagrams.
    const addon = loadNative<{ UdpSocket: new (...a: unknown[]) => { info(): { port: number }; close(): void }; udpBatch: number; udpMeta: number }>('lanboot_packet');
    expect(addon.udpBatch).toBe(64);
    const k = addon.udpMeta;
    const meta = new Uint32Array(64 * k);
    const batches: Array<{ count: number; texts: string[]; ports: number[] }> = [];
    const r = new addon.UdpSocket(0x7f000001, 0, 1 << 20, 0, meta, (buf: Buffer, count: number) => {
      const texts: string[] = [];
      const ports: number[] = [];
      for (let i = 0, off = 0; i < count; i++) {
        texts.push(buf.toString('latin1', off, off + meta[i * k]!));
        ports.push(meta[i * k + 2]!);
        off += meta[i * k]!;
      }
      batches.push({ count, texts, ports });
    }, () => undefined);
    const tx = await rx('127.0.0.1');
    // Sent in one loop turn (one sendmmsg), so all 100 are waiting when the receiver wakes.
    for (let i = 0; i < 100; i++) tx.sock.out.send(Buffer.from(`datagram ${i}`), r.info().port, '127.0.0.1');
    await tick(50);
    r.close();
    await tx.sock.close();
    expect(batches.map((b) => b.count)).toEqual([64, 36]);
    expect(batches.flatMap((b) => b.texts)).toEqual(Array.from({ length: 100 }, (_, i) => `datagram ${i}`));
    expect(new Set(batches.flatMap((b) => b.ports))).toEqual(new Set([tx.sock.port]));
  });

  it('on a wildcard bind, says which local address each datagram came to, and answers from it', async () => {
    const server = await rx('0.0.0.0');
    const client = await openUdp('127.0.0.1', 0);
    const answers: string[] = [];
    client.on('message', (m, rinfo) => answers.push(`${m} from ${rinfo.address}:${rinfo.port}`));
    client.send('to .5', server.sock.port, '127.0.0.5');
    client.send('to .1', server.sock.port, '127.0.0.1');
    await tick(50);
    expect(server.got.map((g) => [g.text, g.from.local, g.from.ifindex, g.from.address, g.from.port])).toEqual([
      ['to .5', '127.0.0.5', 1, '127.0.0.1', client.address().port],
      ['to .1', '127.0.0.1', 1, '127.0.0.1', client.address().port],
    ]);
    server.sock.out.send(Buffer.from('reply'), client.address().port, '127.0.0.1', undefined, '127.0.0.5');
    await tick(50);
    expect(answers).toEqual([`reply from 127.0.0.5:${server.sock.port}`]);
    client.close();
    await server.sock.close();
  });

  it('a datagram the kernel refuses is reported and skipped; the rest of the sendmmsg leaves', async () => {
    const a = await rx('127.0.0.1');
    const b = await rx('127.0.0.1');
    a.sock.out.send(Buffer.from('first'), b.sock.port, '127.0.0.1');
    a.sock.out.send(Buffer.from('port 0'), 0, '127.0.0.1'); // EINVAL
    a.sock.out.send(Buffer.from('last'), b.sock.port, '127.0.0.1');
    await tick(50);
    expect(b.got.map((g) => g.text)).toEqual(['first', 'last']);
    expect(a.errors).toEqual(['EINVAL']);
    await Promise.all([a.sock.close(), b.sock.close()]);
  });

  it('no route to one destination (a namespace with only loopback): the others in the batch still leave', async () => {
    const ns = await net.createNetns();
    const out = await net.exec(ns, 'node', ['--import', 'tsx', FIXTURE, 'unreachable'], { timeoutMs: 30_000 });
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout)).toEqual({ got: ['one', 'two'], errors: ['ENETUNREACH'] });
  });

  it('once the kernel refuses (EAGAIN), what waits is bounded per destination and in total, and drops are counted', async () => {
    const ns = await net.createNetns();
    const peer = await net.createNetns();
    // Nobody on the link answers ARP: datagrams wait in the neighbour queue, charged to the socket.
    await net.addVethPair(ns, peer, { addrA: '10.77.0.1/24' });
    const out = await net.exec(ns, 'node', ['--import', 'tsx', FIXTURE, 'caps', '10.77.0'], { timeoutMs: 30_000 });
    expect(out.stderr).toBe('');
    const r = JSON.parse(out.stdout) as { afterFlush: { queued: number; blocked: boolean }; acceptedOld: boolean; acceptedNew: number; dropped: number; errors: string[] };
    expect(r.afterFlush.blocked).toBe(true);
    expect(r.afterFlush.queued).toBeGreaterThan(0);
    expect(r.afterFlush.queued).toBeLessThan(600);
    expect(r.acceptedOld).toBe(false); // that destination has 4 waiting
    expect(r.acceptedNew).toBe(4); // a fresh one gets its 4
    expect(r.dropped).toBe(1 + 2);
    expect(r.errors).toEqual([]);
  });

  it('drops unread what waited longer than maxAgeMs in the kernel, and what is longer than a receive slot', async () => {
    const server = await rx('127.0.0.1', { maxAgeMs: 30 });
    const client = await openUdp('127.0.0.1', 0);
    client.send('old', server.sock.port, '127.0.0.1'); // leaves at once (literal address, bound socket)
    const until = Date.now() + 80;
    while (Date.now() < until); // the loop is busy: 'old' waits in the kernel
    client.send(Buffer.alloc(5000), server.sock.port, '127.0.0.1');
    client.send('fresh', server.sock.port, '127.0.0.1');
    await tick(50);
    expect(server.got.map((g) => g.text)).toEqual(['fresh']);
    expect(server.dropped).toEqual(expect.arrayContaining([['stale', 1], ['truncated', 1]]));
    client.close();
    await server.sock.close();
  });

  it('close() still sends what this loop turn queued', async () => {
    const a = await rx('127.0.0.1');
    const b = await rx('127.0.0.1');
    a.sock.out.send(Buffer.from('last words'), b.sock.port, '127.0.0.1');
    await a.sock.close();
    await tick(50);
    expect(b.got.map((g) => g.text)).toEqual(['last words']);
    await b.sock.close();
  });

  it('falls back to dgram when asked (as when the addon is not built): no local address', async () => {
    const got: Received[] = [];
    const s = await openServerUdp({ address: '127.0.0.1', port: 0, rcvbuf: 1 << 20, dgram: true, onMessage: (_b, f) => got.push(f), onError: () => undefined, sender: { service: 'test' } });
    expect(s.native).toBe(false);
    const c = await openUdp('127.0.0.1', 0);
    c.send('x', s.port, '127.0.0.1');
    await tick(50);
    expect(got).toEqual([{ address: '127.0.0.1', port: c.address().port }]);
    c.close();
    await s.close();
  });
});
