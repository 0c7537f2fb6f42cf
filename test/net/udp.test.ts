import { describe, expect, it } from 'vitest';
import { BoundedSender, openUdp, type UdpSocket } from '../../src/net/udp.js';
import { Telemetry } from '../../src/telemetry.js';

/** A socket whose kernel refuses everything once `blocked`: libuv would queue each send. */
class StubSocket {
  queued = 0;
  blocked = false;
  sent: string[] = [];
  callbacks: Array<(err: Error | null) => void> = [];
  getSendQueueCount(): number {
    return this.queued;
  }
  send(_b: Buffer, _port: number, address: string, cb: (err: Error | null) => void): void {
    this.sent.push(address);
    if (this.blocked) {
      this.queued++;
      this.callbacks.push((e) => {
        this.queued--;
        cb(e);
      });
    } else queueMicrotask(() => cb(null));
  }
  drain(): void {
    for (const c of this.callbacks.splice(0)) c(null);
  }
}

function logger() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: { warn: (o: Record<string, unknown>) => void lines.push(o) } as never };
}

describe('BoundedSender', () => {
  it('gives an on-link address that does not answer ARP one datagram per window, and only so many of them', async () => {
    const sock = new StubSocket();
    const tel = new Telemetry();
    const { lines, log } = logger();
    const s = new BoundedSender(sock as unknown as UdpSocket, { service: 'dhcp', telemetry: tel, log, linkAddressKnown: (a) => a.startsWith('10.1.'), maxUnresolved: 32 });
    const buf = Buffer.alloc(300);
    for (let i = 0; i < 40; i++) s.send(buf, 68, `10.2.0.${i}`);
    expect(sock.sent.length).toBe(32);
    s.send(buf, 68, '10.2.0.0'); // already had its one
    expect(s.send(buf, 68, '10.1.0.9')).toBe(true); // known: not limited
    expect(s.send(buf, 68, '10.1.0.9')).toBe(true);
    await new Promise((r) => setTimeout(r, 20)); // the deferred ones are looked at again, still unknown
    expect(sock.sent.length).toBe(34);
    expect(s.dropped.unresolved).toBe(9);
    expect(tel.counters.get('lanboot_udp_send_dropped_total{"service":"dhcp","reason":"unresolved"}')?.value).toBe(9);
    expect(lines).toHaveLength(1); // rate-limited
    expect(lines[0]).toMatchObject({ event: 'dhcp.send_dropped', reason: 'unresolved' });
  });

  it('past the budget, decides on a look at the neighbour table taken after the send: a real client ARPed for us just before it asked', async () => {
    const sock = new StubSocket();
    const looks: Array<number | undefined> = [];
    const arp = new Set<string>();
    const known = (a: string, maxAgeMs?: number) => {
      looks.push(maxAgeMs);
      return maxAgeMs === 0 && arp.has(a);
    };
    const tel = new Telemetry();
    const s = new BoundedSender(sock as unknown as UdpSocket, { service: 'dhcp', telemetry: tel, linkAddressKnown: known, maxUnresolved: 1 });
    expect(s.send(Buffer.alloc(4), 68, '10.2.0.1')).toBe(true); // the window's one unresolved send
    expect(s.send(Buffer.alloc(4), 68, '10.2.0.2')).toBe(true); // deferred
    expect(s.send(Buffer.alloc(4), 68, '10.2.0.3')).toBe(true); // deferred
    arp.add('10.2.0.3'); // the kernel learns it (in reality: before the request arrived)
    expect(sock.sent).toEqual(['10.2.0.1']);
    await new Promise((r) => setTimeout(r, 20));
    expect(sock.sent).toEqual(['10.2.0.1', '10.2.0.3']);
    expect(s.dropped.unresolved).toBe(1);
    expect(looks).toEqual([undefined, undefined, undefined, 0, 0]);
  });

  it('a new window admits a destination again', async () => {
    const sock = new StubSocket();
    const s = new BoundedSender(sock as unknown as UdpSocket, { service: 'tftp', linkAddressKnown: () => false, unresolvedWindowMs: 50 });
    s.send(Buffer.alloc(4), 69, '10.2.0.1');
    s.send(Buffer.alloc(4), 69, '10.2.0.1');
    await new Promise((r) => setTimeout(r, 20));
    expect(sock.sent.length).toBe(1);
    expect(s.dropped.unresolved).toBe(1);
    await new Promise((r) => setTimeout(r, 40));
    s.send(Buffer.alloc(4), 69, '10.2.0.1');
    expect(sock.sent.length).toBe(2);
  });

  it('bounds what waits in memory per destination and in total once the kernel refuses', () => {
    const sock = new StubSocket();
    const s = new BoundedSender(sock as unknown as UdpSocket, { service: 'dhcp', linkAddressKnown: () => true, maxQueuedPerDestination: 4, maxQueued: 10 });
    const buf = Buffer.alloc(300);
    sock.blocked = true;
    for (let i = 0; i < 20; i++) s.send(buf, 68, '10.1.0.1');
    // The first goes to the (refusing) kernel with an empty queue; then 3 more may wait.
    expect(sock.queued).toBe(4);
    for (let d = 2; d < 10; d++) for (let i = 0; i < 3; i++) s.send(buf, 68, `10.1.0.${d}`);
    expect(sock.queued).toBe(10);
    expect(s.send(buf, 68, '10.1.0.99')).toBe(false); // total bound, even for a fresh destination
    expect(s.dropped.queue).toBe(16 + 8 * 3 - 6 + 1);
    sock.blocked = false;
    sock.drain();
    expect(sock.queued).toBe(0);
    expect(s.send(buf, 68, '10.1.0.1')).toBe(true); // per-destination count released by the callbacks
  });

  it('sends for real on a socket and calls back', async () => {
    const a = await openUdp('127.0.0.1', 0);
    const b = await openUdp('127.0.0.1', 0);
    const got = new Promise<string>((r) => b.once('message', (m) => r(m.toString())));
    const s = new BoundedSender(a, { service: 'test' });
    const done = new Promise<Error | null>((r) => s.send(Buffer.from('hi'), b.address().port, '127.0.0.1', r));
    expect(await got).toBe('hi');
    expect(await done).toBeNull();
    a.close();
    b.close();
  });
});
