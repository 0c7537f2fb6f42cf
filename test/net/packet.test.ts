import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsScope, type VethPair } from '../helpers/netns.js';
import {
  ETH_P_802_2,
  ETH_P_ALL,
  PACKET_BROADCAST,
  PACKET_HOST,
  PACKET_MULTICAST,
  PACKET_OTHERHOST,
  PacketSocket,
  TP_STATUS_CSUMNOTREADY,
  linkInfo,
  loadAddon,
} from '../../src/net/packet.js';
import { llcSap, udpDstPort } from '../../src/net/bpf.js';
import { encode as encodeEth } from '../../src/codec/ethernet.js';
import { decodeUdpFrame, encodeIpv4, encodeUdpFrame } from '../../src/codec/ipv4.js';
import { Peer } from './peer.js';

// IEEE 802 local experimental EtherType: nothing else on the link uses it.
const ETH_EXP = 0x88b5;
const RPL_GROUP = '03:00:02:00:00:00';

function exp(dst: string, src: string, tag: string | Buffer): Buffer {
  return encodeEth({ kind: 'ethernet', dst, src, ethertype: ETH_EXP, payload: typeof tag === 'string' ? Buffer.from(tag) : tag });
}

/** Payload text of an experimental frame (up to the first zero byte of padding). */
function tagOf(f: Buffer): string {
  const p = f.subarray(14);
  const z = p.indexOf(0);
  return p.subarray(0, z < 0 ? p.length : z).toString();
}

type Got = Array<{ frame: Buffer; pktType: number; status: number }>;

function collect(sock: PacketSocket): Got {
  const got: Got = [];
  sock.on('frame', (frame, pktType, status) => got.push({ frame, pktType, status }));
  return got;
}

async function until(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Let the event loop run a few turns so queued poll callbacks would fire. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 20));
}

/**
 * Wait, without letting the event loop run, until the kernel has queued n
 * frames for `sock` (PACKET_STATISTICS counts them); returns how many it saw.
 */
function queuedWithoutYielding(sock: PacketSocket, n: number, timeoutMs = 10_000): number {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + timeoutMs;
  let total = 0;
  while (total < n && Date.now() < end) {
    total += sock.stats().packets;
    Atomics.wait(cell, 0, 0, 2);
  }
  return total;
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('PacketSocket over a veth pair (root namespace <-> test namespace)', () => {
  const net = new NetnsScope();
  let ns: string;
  let link: VethPair;
  const subnet = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
  let peer: Peer; // records everything on ETH_EXP in the namespace

  beforeAll(async () => {
    ns = await net.createNetns();
    // Only the namespace end has an address; the root end stays unnumbered.
    link = await net.addVethPair(null, ns, { addrB: `${subnet}.2/24` });
    // Kernel UDP from the namespace to "${subnet}.1" goes out as a frame to our MAC.
    await net.exec(ns, 'ip', ['neigh', 'replace', `${subnet}.1`, 'lladdr', link.macA, 'dev', link.b, 'nud', 'permanent']);
    peer = await Peer.start(net, ns, { ifname: link.b, protocol: ETH_EXP });
  });
  afterAll(() => net.cleanup());

  it('reports the interface MAC, index and MTU', () => {
    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP });
    try {
      expect(s.mac).toBe(link.macA);
      expect(s.mtu).toBe(1500);
      expect(s.ifindex).toBe(Number(readFileSync(`/sys/class/net/${link.a}/ifindex`, 'utf8')));
      expect(linkInfo(link.a)).toEqual({ ifindex: s.ifindex, mac: link.macA, mtu: 1500 });
    } finally {
      s.close();
    }
  });

  it('carries frames both ways and never hands us our own sends', async () => {
    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP });
    const got = collect(s);
    try {
      expect(peer.mac).toBe(link.macB);
      const before = peer.frames.length;
      const out = exp(link.macB, link.macA, 'root to ns');
      s.send(out);
      const f = (await peer.waitFrames(before + 1))[before];
      expect(f.frame.equals(out)).toBe(true);
      expect(f.pktType).toBe(PACKET_HOST);

      const back = exp(link.macA, link.macB, 'ns to root');
      await peer.send(back);
      await until(() => got.length >= 1, 5000, 'frame from peer');
      expect(got.map((g) => g.frame)).toEqual([back]);
      expect(got[0].pktType).toBe(PACKET_HOST);
    } finally {
      s.close();
    }
  });

  it('classifies host, broadcast, multicast and other-host frames', async () => {
    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP });
    const got = collect(s);
    try {
      const dsts: Array<[string, number]> = [
        [link.macA, PACKET_HOST],
        ['ff:ff:ff:ff:ff:ff', PACKET_BROADCAST],
        ['01:00:5e:00:00:fb', PACKET_MULTICAST],
        ['02:aa:bb:cc:dd:ee', PACKET_OTHERHOST],
      ];
      for (const [dst] of dsts) await peer.send(exp(dst, link.macB, `to ${dst}`));
      await until(() => got.length >= dsts.length, 5000, 'four frames');
      expect(got.map((g) => [tagOf(g.frame), g.pktType])).toEqual(dsts.map(([d, t]) => [`to ${d}`, t]));
    } finally {
      s.close();
    }
  });

  it('joins a multicast group (and promiscuous mode) only while open', async () => {
    const maddr = async (): Promise<string> => (await net.exec(null, 'ip', ['maddr', 'show', 'dev', link.a])).stdout;
    const promisc = (): boolean => (parseInt(readFileSync(`/sys/class/net/${link.a}/flags`, 'utf8'), 16) & 0x100) !== 0;
    expect(await maddr()).not.toContain(RPL_GROUP);
    expect(promisc()).toBe(false);
    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP, multicast: [RPL_GROUP], promiscuous: true });
    const got = collect(s);
    try {
      expect(await maddr()).toContain(`link  ${RPL_GROUP}`);
      expect(promisc()).toBe(true);
      await peer.send(exp(RPL_GROUP, link.macB, 'FIND'));
      await until(() => got.length >= 1, 5000, 'group frame');
      expect(tagOf(got[0].frame)).toBe('FIND');
      expect(got[0].pktType).toBe(PACKET_MULTICAST);
      s.leaveMulticast(RPL_GROUP);
      expect(await maddr()).not.toContain(RPL_GROUP);
      s.joinMulticast(RPL_GROUP);
      expect(await maddr()).toContain(RPL_GROUP);
    } finally {
      s.close();
    }
    expect(await maddr()).not.toContain(RPL_GROUP);
    expect(promisc()).toBe(false);
  });

  it('drops frames that arrived with a VLAN tag instead of presenting them as untagged', async () => {
    // 802.1Q: TPID 0x8100, TCI (VLAN 10), then the inner EtherType and payload.
    const inner = exp(link.macA, link.macB, 'vlan 10');
    const tagged = Buffer.concat([inner.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 0x0a]), inner.subarray(12)]);
    const all = PacketSocket.open({ ifname: link.a, protocol: ETH_P_ALL });
    const bound = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP });
    const gotAll = collect(all);
    const gotBound = collect(bound);
    try {
      await peer.send(tagged);
      await peer.send(exp(link.macA, link.macB, 'untagged'));
      await until(() => gotAll.some((g) => tagOf(g.frame) === 'untagged') && gotBound.length >= 1, 5000, 'untagged frame');
      await settle();
      // The kernel strips the tag before any packet socket sees the frame: a tap
      // (ETH_P_ALL) learns of it from tp_status and PacketSocket drops the frame;
      // a protocol-bound socket only gets it as PACKET_OTHERHOST, tag gone.
      expect(gotAll.filter((g) => g.frame.readUInt16BE(12) === ETH_EXP).map((g) => tagOf(g.frame))).toEqual(['untagged']);
      expect(all.vlanDropped).toBe(1);
      expect(gotBound.map((g) => [tagOf(g.frame), g.pktType])).toEqual([
        ['vlan 10', PACKET_OTHERHOST],
        ['untagged', PACKET_HOST],
      ]);
    } finally {
      all.close();
      bound.close();
    }
  });

  it('udpDstPort() passes only unfragmented UDP to the given ports, IP options included', async () => {
    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_P_ALL, filter: udpDstPort([67, 4011]) });
    const got = collect(s);
    const udp = (dstPort: number, tag: string, extra: { options?: Buffer; fragmentOffset?: number; moreFragments?: boolean; protocol?: number } = {}): Buffer => {
      const src = `${subnet}.2`;
      const dst = `${subnet}.1`;
      const plain = encodeUdpFrame({ srcMac: link.macB, dstMac: link.macA, src, dst, srcPort: 68, dstPort, payload: Buffer.from(tag) });
      if (!extra.options && extra.fragmentOffset === undefined && extra.protocol === undefined && !extra.moreFragments) return plain;
      const ipPayload = decodeUdpFrame(plain).ip.payload;
      const ip = encodeIpv4({ src, dst, protocol: extra.protocol ?? 17, payload: ipPayload, ...extra });
      return encodeEth({ kind: 'ethernet', dst: link.macA, src: link.macB, ethertype: 0x0800, payload: ip });
    };
    try {
      const frames: Array<[Buffer, boolean]> = [
        [udp(67, 'a: dhcp'), true],
        [udp(68, 'b: client port'), false],
        [udp(4011, 'c: pxe with options', { options: Buffer.from([0x94, 0x04, 0, 0]) }), true], // Router Alert, IHL 6
        [udp(67, 'd: second fragment', { fragmentOffset: 10 }), false],
        [udp(67, 'e: first fragment', { moreFragments: true }), true], // has the UDP header; the codec refuses it
        [udp(67, 'f: tcp', { protocol: 6 }), false],
        [exp(link.macA, link.macB, 'g: not ip'), false],
        [encodeEth({ kind: 'llc', dst: link.macA, src: link.macB, dsap: 0xfc, ssap: 0xfc, control: 3, payload: Buffer.from('h: llc') }), false],
        [udp(67, 'z: end'), true],
      ];
      for (const [f] of frames) await peer.send(f);
      await until(() => got.some((g) => g.frame.includes('z: end')), 5000, 'end marker');
      expect(got.map((g) => g.frame)).toEqual(frames.filter(([, pass]) => pass).map(([f]) => f));
    } finally {
      s.close();
    }
  });

  it('udpDstPort() sees kernel-sent UDP; tp_status says when its checksum is still partial', async () => {
    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_P_ALL, filter: udpDstPort(67) });
    const got = collect(s);
    try {
      for (const [port, text] of [[69, 'tftp'], [67, 'kernel dhcp']] as const) {
        const r = await net.exec(ns, 'socat', ['-u', 'STDIN', `UDP-SENDTO:${subnet}.1:${port},sourceport=68`], { input: text });
        expect(r.code, r.stderr).toBe(0);
      }
      await until(() => got.length >= 1, 5000, 'kernel UDP');
      await peer.send(encodeUdpFrame({ srcMac: link.macB, dstMac: link.macA, src: `${subnet}.2`, dst: `${subnet}.1`, srcPort: 68, dstPort: 67, payload: Buffer.from('end') }));
      await until(() => got.length >= 2, 5000, 'end marker');
      expect(got.length).toBe(2);
      const [{ frame, status }] = got;
      const d = decodeUdpFrame(frame, { verifyChecksum: (status & TP_STATUS_CSUMNOTREADY) === 0 });
      expect(d.udp).toMatchObject({ srcPort: 68, dstPort: 67 });
      expect(d.udp.payload.toString()).toBe('kernel dhcp');
      expect(d.ip.src).toBe(`${subnet}.2`);
      // Our userspace-built frame carries a full checksum and is marked so.
      expect(got[1].status & TP_STATUS_CSUMNOTREADY).toBe(0);
      expect(decodeUdpFrame(got[1].frame).udp.payload.toString()).toBe('end');
    } finally {
      s.close();
    }
  });

  it('a frame we build with the codecs is accepted by the kernel UDP stack', async () => {
    const rx = net.spawn(ns, 'socat', ['-u', `UDP-RECV:6767,bind=${subnet}.2`, 'STDOUT']);
    let out = '';
    rx.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP });
    try {
      // socat needs a moment to bind; resend until the datagram shows up (bounded).
      const frame = encodeUdpFrame({ srcMac: link.macA, dstMac: link.macB, src: `${subnet}.1`, dst: `${subnet}.2`, srcPort: 67, dstPort: 6767, payload: Buffer.from('checksums ok\n') });
      const bad = Buffer.from(frame);
      bad[bad.length - 1] ^= 0xff; // broken UDP checksum: the kernel must drop it
      for (let i = 0; i < 100 && !out.includes('checksums ok'); i++) {
        s.send(bad);
        s.send(frame);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(out).toContain('checksums ok');
      expect(out).not.toMatch(/checksums ok[^\n]/);
      expect(out.replace(/checksums ok\n/g, '')).toBe('');
    } finally {
      s.close();
      rx.kill();
    }
  });

  it('llcSap() keeps only 802.3 frames for the given DSAPs; setFilter() replaces it', async () => {
    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_P_802_2, filter: llcSap([0xfc]) });
    const got = collect(s);
    const llc = (dsap: number, tag: string): Buffer =>
      encodeEth({ kind: 'llc', dst: link.macA, src: link.macB, dsap, ssap: dsap, control: 3, payload: Buffer.from(tag) });
    try {
      await peer.send(llc(0xf0, 'netbios'));
      await peer.send(exp(link.macA, link.macB, 'ethernet ii'));
      await peer.send(llc(0xfc, 'rpl'));
      await until(() => got.length >= 1, 5000, 'rpl frame');
      s.setFilter(llcSap([0xf0, 0xf8]));
      await peer.send(llc(0xfc, 'rpl again'));
      await peer.send(llc(0xf8, 'load sap'));
      await until(() => got.length >= 2, 5000, 'load sap frame');
      await settle();
      expect(got.map((g) => g.frame.subarray(17, 14 + g.frame.readUInt16BE(12)).toString())).toEqual(['rpl', 'load sap']);
    } finally {
      s.close();
    }
  });

  it('1000 echoed round trips with the 4 MiB buffer lose no frame', async () => {
    const echo = await Peer.start(net, ns, { ifname: link.b, protocol: 0x88b6, echo: true, quiet: true });
    const s = PacketSocket.open({ ifname: link.a, protocol: 0x88b6 });
    const seen = new Map<number, number>();
    s.on('frame', (f) => {
      if (f.readUInt32BE(14) === 0x6c62_6f74) seen.set(f.readUInt32BE(18), (seen.get(f.readUInt32BE(18)) ?? 0) + 1);
    });
    try {
      const N = 1000;
      // Send in one burst: all 1000 sit in the peer's and then our queue at once.
      for (let i = 0; i < N; i++) {
        const f = Buffer.alloc(60 + (i % 7) * 100);
        Buffer.from(link.macB.replace(/:/g, ''), 'hex').copy(f, 0);
        Buffer.from(link.macA.replace(/:/g, ''), 'hex').copy(f, 6);
        f.writeUInt16BE(0x88b6, 12);
        f.writeUInt32BE(0x6c62_6f74, 14);
        f.writeUInt32BE(i, 18);
        s.send(f);
      }
      await until(() => seen.size >= N, 20_000, `${N} echoes (got ${seen.size})`);
      expect([...seen.keys()].sort((a, b) => a - b)).toEqual([...Array(N).keys()]);
      expect([...seen.values()].every((c) => c === 1)).toBe(true);
      const mine = s.stats();
      expect(mine.drops).toBe(0);
      expect(mine.rcvbuf).toBeGreaterThanOrEqual(2 * 4 * 1024 * 1024); // SO_RCVBUFFORCE took the 4 MiB
      const st = await echo.stats();
      expect(st.received).toBe(N);
      expect(st.stats.drops).toBe(0);
    } finally {
      s.close();
    }
  });

  it('a burst reaches JS 64 frames per wake-up: promise continuations run in between', async () => {
    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP });
    let frames = 0;
    const seenByMicrotask: number[] = [];
    s.on('frame', () => {
      frames++;
      // A reply sent from a .then() waits for this: the end of the wake-up's callback scope.
      queueMicrotask(() => seenByMicrotask.push(frames));
    });
    try {
      const acked = peer.send(exp(link.macA, link.macB, 'burst'), 200);
      expect(queuedWithoutYielding(s, 200)).toBe(200);
      await acked;
      await until(() => frames >= 200, 5000, 'the burst');
      expect(seenByMicrotask[0]).toBe(64);
      expect(seenByMicrotask.at(-1)).toBe(200);
    } finally {
      s.close();
    }
  });

  it('maxAgeMs: frames that waited longer in the kernel are dropped unread and counted', async () => {
    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP, maxAgeMs: 100 });
    const got = collect(s);
    let stale = 0;
    s.on('stale', (n) => (stale += n));
    try {
      const acked = peer.send(exp(link.macA, link.macB, 'old'), 5);
      expect(queuedWithoutYielding(s, 5)).toBe(5);
      // Keep the loop busy past the limit with the frames queued.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
      await acked;
      await until(() => stale >= 5, 5000, 'stale count');
      await peer.send(exp(link.macA, link.macB, 'fresh'));
      await until(() => got.length >= 1, 5000, 'fresh frame');
      await settle();
      expect(stale).toBe(5);
      expect(got.map((g) => tagOf(g.frame))).toEqual(['fresh']);
    } finally {
      s.close();
    }
  });

  it('close() stops delivery at once, even from inside a frame listener mid-burst', async () => {
    const watcher = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP });
    const all = collect(watcher);
    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP });
    let calls = 0;
    s.on('frame', () => {
      calls++;
      s.close(); // the remaining queued frames must not reach us
    });
    try {
      // Block our event loop until the kernel holds the whole burst for us,
      // so the first wake-up finds 50 frames queued.
      const acked = peer.send(exp(link.macA, link.macB, 'burst'), 50);
      expect(queuedWithoutYielding(s, 50)).toBe(50);
      await acked;
      await until(() => all.length >= 50, 5000, 'burst on the watcher');
      await settle();
      expect(calls).toBe(1);
      expect(s.closed).toBe(true);
      s.close(); // idempotent
      expect(() => s.send(exp(link.macB, link.macA, 'x'))).toThrow(/closed/);
      expect(() => s.stats()).toThrow(/closed/);

      // Closed from outside with frames queued in the kernel.
      const q = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP });
      let qcalls = 0;
      q.on('frame', () => qcalls++);
      const acked2 = peer.send(exp(link.macA, link.macB, 'queued'), 20);
      expect(queuedWithoutYielding(q, 20)).toBe(20);
      q.close();
      await acked2;
      await until(() => all.length >= 70, 5000, 'second burst on the watcher');
      await settle();
      expect(qcalls).toBe(0);

      // Re-open on the same interface works and receives.
      const again = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP });
      const got = collect(again);
      try {
        await peer.send(exp(link.macA, link.macB, 'after reopen'));
        await until(() => got.length >= 1, 5000, 'frame after reopen');
        expect(tagOf(got[0].frame)).toBe('after reopen');
      } finally {
        again.close();
      }
    } finally {
      watcher.close();
      s.close();
    }
  });

  it('a worker thread exiting with sockets open, closing, or closed mid-callback does not crash the process', async () => {
    const addonPath = fileURLToPath(new URL('../../native/build/Release/lanboot_packet.node', import.meta.url));
    const modes = ['open', 'close-then-exit', 'close-in-callback', 'terminate'];
    const codes = await Promise.all(
      modes.map(
        (mode) =>
          new Promise<number>((resolve, reject) => {
            const w = new Worker(
              `
              const { parentPort } = require('node:worker_threads');
              const a = require(${JSON.stringify(addonPath)});
              const ifname = ${JSON.stringify(link.a)}, mode = ${JSON.stringify(mode)};
              const socks = [0, 1, 2].map(() => new a.Socket(ifname, 0x88b5, 1 << 20, null, () => {}));
              if (mode === 'open') process.exit(3);
              if (mode === 'close-then-exit') { socks.forEach((s) => s.close()); process.exit(4); }
              if (mode === 'terminate') parentPort.postMessage('ready');
              if (mode === 'close-in-callback') {
                const s = new a.Socket(ifname, 0x88b6, 0, null, () => { s.close(); process.exit(5); });
                parentPort.postMessage('send');
              }
              setInterval(() => {}, 1000);
              `,
              { eval: true },
            );
            w.on('message', (m) => {
              if (m === 'ready') void w.terminate();
              if (m === 'send') peer.send(encodeEth({ kind: 'ethernet', dst: link.macA, src: link.macB, ethertype: 0x88b6, payload: Buffer.from('w') })).catch(reject);
            });
            w.on('error', reject);
            w.on('exit', resolve);
          }),
      ),
    );
    expect(codes).toEqual([3, 4, 5, 1]);
  });

  it('survives the link going down and up, and reports it; reports a deleted interface', async () => {
    const l2 = await net.addVethPair(null, ns);
    const s = PacketSocket.open({ ifname: l2.a, protocol: ETH_EXP });
    const got = collect(s);
    const errors: string[] = [];
    s.on('linkerror', (e) => errors.push(String(e.code)));
    const peer2 = await Peer.start(net, ns, { ifname: l2.b, protocol: ETH_EXP });
    try {
      await peer2.send(exp(l2.macA, l2.macB, 'before'));
      await until(() => got.length >= 1, 5000, 'frame before');
      await net.exec(null, 'ip', ['link', 'set', l2.a, 'down']);
      await until(() => errors.length >= 1, 5000, 'ENETDOWN');
      await net.exec(null, 'ip', ['link', 'set', l2.a, 'up']);
      // The peer's end needs carrier again before it can send; resend until one arrives.
      for (let i = 0; i < 100 && got.length < 2; i++) {
        await peer2.send(exp(l2.macA, l2.macB, 'after'));
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(got.map((g) => tagOf(g.frame))).toContain('after');
      expect(errors).toEqual(['ENETDOWN']);

      await net.exec(null, 'ip', ['link', 'del', l2.a]);
      await until(() => errors.includes('ENODEV'), 5000, 'ENODEV');
      expect(errors).toEqual(['ENETDOWN', 'ENETDOWN', 'ENODEV']);
    } finally {
      s.close();
      peer2.child.kill();
    }
  });

  it('opening and closing many sockets leaks no file descriptor', () => {
    const before = openFds();
    for (let i = 0; i < 100; i++) {
      const s = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP, multicast: [RPL_GROUP], filter: llcSap([0xfc]) });
      s.close();
    }
    expect(openFds()).toBe(before);
  });

  it('throws JS errors for bad arguments instead of crashing', () => {
    const bad: Array<() => unknown> = [
      () => PacketSocket.open({ ifname: 'lb-nosuchif0', protocol: ETH_EXP }),
      () => PacketSocket.open({ ifname: '', protocol: ETH_EXP }),
      () => PacketSocket.open({ ifname: 'x'.repeat(16), protocol: ETH_EXP }),
      () => PacketSocket.open({ ifname: link.a, protocol: -1 }),
      () => PacketSocket.open({ ifname: link.a, protocol: 0x10000 }),
      () => PacketSocket.open({ ifname: link.a, protocol: 1.5 }),
      () => PacketSocket.open({ ifname: link.a, protocol: '3' as unknown as number }),
      () => PacketSocket.open({ ifname: link.a, protocol: ETH_EXP, rcvbuf: -5 }),
      () => PacketSocket.open({ ifname: link.a, protocol: ETH_EXP, filter: [] }),
      () => PacketSocket.open({ ifname: link.a, protocol: ETH_EXP, filter: [{ code: 'x' } as never] }),
      () => PacketSocket.open({ ifname: link.a, protocol: ETH_EXP, filter: [null as never] }),
      () => PacketSocket.open({ ifname: link.a, protocol: ETH_EXP, filter: 'ret' as never }),
      // The kernel's verifier refuses a jump past the end.
      () => PacketSocket.open({ ifname: link.a, protocol: ETH_EXP, filter: [{ code: 0x15, jt: 5, jf: 5, k: 0 }] }),
      () => PacketSocket.open({ ifname: link.a, protocol: ETH_EXP, multicast: ['not-a-mac'] }),
    ];
    for (const f of bad) expect(f).toThrow(Error);
    expect(bad[0]).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    expect(bad[12]).toThrow(expect.objectContaining({ code: 'EINVAL' }));

    const s = PacketSocket.open({ ifname: link.a, protocol: ETH_EXP });
    try {
      expect(() => s.send('hello' as unknown as Buffer)).toThrow(TypeError);
      expect(() => s.send(Buffer.alloc(5))).toThrow(TypeError);
      expect(() => s.send(Buffer.alloc(9000))).toThrow(expect.objectContaining({ code: 'EMSGSIZE' }));
      expect(() => s.setFilter([])).toThrow(TypeError);
      expect(() => s.joinMulticast('zz')).toThrow(/not a MAC/);
    } finally {
      s.close();
    }

    // The raw addon, misused directly.
    const addon = loadAddon() as unknown as Record<string, any>;
    const Sock = addon.Socket;
    expect(() => new Sock()).toThrow(TypeError);
    expect(() => Sock(link.a, ETH_EXP, 0, null, () => {})).toThrow(TypeError);
    expect(() => new Sock(link.a, ETH_EXP, 0, null, 'not a function')).toThrow(TypeError);
    expect(() => Sock.prototype.send.call({}, Buffer.alloc(60))).toThrow(TypeError);
    expect(() => Sock.prototype.close.call(undefined)).toThrow(TypeError);
    expect(() => addon.ifInfo()).toThrow(TypeError);
    expect(() => addon.ifInfo({})).toThrow(TypeError);
    const raw = new Sock(link.a, ETH_EXP, 0, null, () => {});
    expect(() => raw.membership(true, 0, Buffer.alloc(5))).toThrow(TypeError);
    expect(() => raw.membership('yes', 0, null)).toThrow(TypeError);
    expect(() => raw.membership(true, 9, null)).toThrow(TypeError);
    raw.close();
    expect(() => raw.send(Buffer.alloc(60))).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});
