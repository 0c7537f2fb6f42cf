/**
 * An RPL client (boot-ROM) simulator written from the protocol description (docs/rpl.md) alone —
 * it does not use src/codec/rpl.ts, so a shared misreading cannot hide.
 *
 * Behaviour (docs/rpl.md §1, §6): FIND to 03:00:02:00:00:00 every findIntervalMs until a
 * FOUND for us arrives; SEND.FILE.REQUEST(0) to the server; accept only the
 * block it expects (discard others), store each at its LOCATE address, answer
 * ACK-REQUEST with SFR(next), and after a gap or silence ask again with
 * SFR(expected). On END-OF-FILE it records the transfer address.
 */

export interface SimLink {
  send(frame: Buffer): void;
  on(event: 'frame', fn: (frame: Buffer) => void): unknown;
}

export interface SimClock {
  now(): number;
  setTimer(ms: number, fn: () => void): { cancel(): void };
}

export interface SimOptions {
  mac: string;
  maxFrame?: number;
  correlator?: number;
  memoryKiB?: number;
  /** Requests go to this SAP (default: the one FOUND names). */
  requestSap?: number;
  findIntervalMs?: number;
  /** Re-request after this long without data. */
  silenceMs?: number;
  /** Ask for the missing block at the first out-of-order frame (else only after silence). */
  nakOnGap?: boolean;
  /** Sequence numbers to drop the first time they arrive (simulated loss). */
  drop?: number[];
  /** Give up after this many re-requests without progress. */
  maxRetries?: number;
}

export interface SimResult {
  ok: boolean;
  error?: string;
  serverMac?: string;
  agreedMaxFrame?: number;
  execute?: number;
  lastFlags?: number;
  blocks: number;
  framesReceived: number;
  outOfOrder: number;
  /** Frames thrown away on purpose (SimOptions.drop). */
  dropped: number;
  rerequests: number;
  /** Every accepted sequence number, in order (must be 0..blocks-1). */
  accepted: number[];
  /** [address, length] of each accepted block. */
  writes: Array<[number, number]>;
  largestFrame: number;
  largestPayload: number;
  memory: Buffer;
  problems: string[];
}

const GROUP = Buffer.from([0x03, 0, 0x02, 0, 0, 0]);

function macBytes(m: string): Buffer {
  return Buffer.from(m.split(':').map((x) => parseInt(x, 16)));
}
function macText(b: Buffer, o: number): string {
  return [...b.subarray(o, o + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** u16 length, u16 key, value */
function vec(key: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(4 + value.length, 0);
  h.writeUInt16BE(key, 2);
  return Buffer.concat([h, value]);
}
const u8 = (v: number) => Buffer.from([v]);
const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

/** A whole 802.3 + LLC frame, zero-padded to 60. */
function frame(dst: Buffer, src: Buffer, sap: number, command: number, vectors: Buffer[]): Buffer {
  const body = Buffer.concat(vectors);
  const pdu = Buffer.concat([u16(4 + body.length), u16(command), body]);
  const hdr = Buffer.concat([dst, src, u16(3 + pdu.length), Buffer.from([sap, sap, 0x03])]);
  const f = Buffer.concat([hdr, pdu]);
  return f.length >= 60 ? f : Buffer.concat([f, Buffer.alloc(60 - f.length)]);
}

function clientVectors(o: { mac: string; maxFrame: number; sap: number; memoryKiB: number }): Buffer[] {
  const info = Buffer.alloc(32);
  Buffer.from([0x08, 0x00, 0xfc, 0x01, 0x00, 0x70, 0x00, 0x00]).copy(info, 0);
  info.writeUInt16BE(0x4423, 8);
  info.writeUInt16BE(o.memoryKiB, 10);
  info.write('SIMROM', 22, 'latin1');
  return [
    vec(0x0008, Buffer.concat([vec(0x4009, u16(o.maxFrame)), vec(0x400a, u16(1))])),
    vec(0x4006, macBytes(o.mac)),
    vec(0x4007, u8(o.sap)),
    vec(0x0004, vec(0xc005, info)),
  ];
}

/** Walk vectors in b[start,end): key -> list of [start,end) of values. */
function walk(b: Buffer, start: number, end: number): Map<number, Array<[number, number]>> {
  const m = new Map<number, Array<[number, number]>>();
  let p = start;
  while (p < end) {
    if (end - p < 4) throw new Error('vector header truncated');
    const len = b.readUInt16BE(p);
    const key = b.readUInt16BE(p + 2);
    if (len < 4 || p + len > end) throw new Error(`vector 0x${key.toString(16)} bad length ${len}`);
    const list = m.get(key) ?? [];
    list.push([p + 4, p + len]);
    m.set(key, list);
    p += len;
  }
  return m;
}

export class RplClientSim {
  readonly result: SimResult;
  private readonly o: Required<Omit<SimOptions, 'requestSap' | 'drop'>> & { requestSap?: number };
  private readonly dropOnce: Set<number>;
  private state: 'finding' | 'loading' | 'done' | 'failed' = 'finding';
  private serverMac?: Buffer;
  private sap = 0xfc;
  private expected = 0;
  private nakedFor = -1;
  private retriesWithoutProgress = 0;
  private findTimer?: { cancel(): void };
  private silenceTimer?: { cancel(): void };
  private resolve!: (r: SimResult) => void;
  readonly done: Promise<SimResult>;

  constructor(
    private readonly link: SimLink,
    private readonly clock: SimClock,
    opts: SimOptions,
  ) {
    this.o = {
      maxFrame: 1500,
      correlator: 0x5eed0001,
      memoryKiB: 593,
      findIntervalMs: 1000,
      silenceMs: 500,
      nakOnGap: true,
      maxRetries: 20,
      ...opts,
    };
    this.dropOnce = new Set(opts.drop ?? []);
    this.result = {
      ok: false,
      blocks: 0,
      framesReceived: 0,
      outOfOrder: 0,
      dropped: 0,
      rerequests: 0,
      accepted: [],
      writes: [],
      largestFrame: 0,
      largestPayload: 0,
      memory: Buffer.alloc(1 << 20),
      problems: [],
    };
    this.done = new Promise((r) => (this.resolve = r));
    link.on('frame', (f) => this.onFrame(f));
  }

  start(): void {
    this.sendFind();
  }

  stop(reason = 'stopped'): void {
    if (this.state === 'done' || this.state === 'failed') return;
    this.fail(reason);
  }

  private sendFind(): void {
    if (this.state !== 'finding') return;
    const me = macBytes(this.o.mac);
    this.link.send(
      frame(GROUP, me, 0xfc, 0x0001, [
        vec(0x4003, u32(this.o.correlator)),
        ...clientVectors({ mac: this.o.mac, maxFrame: this.o.maxFrame, sap: 0xfc, memoryKiB: this.o.memoryKiB }),
      ]),
    );
    this.findTimer = this.clock.setTimer(this.o.findIntervalMs, () => this.sendFind());
  }

  private sendRequest(seq: number): void {
    const sap = this.o.requestSap ?? this.sap;
    this.link.send(
      frame(this.serverMac!, macBytes(this.o.mac), sap, 0x0010, [
        vec(0x4011, u32(seq)),
        ...clientVectors({ mac: this.o.mac, maxFrame: this.o.maxFrame, sap, memoryKiB: this.o.memoryKiB }),
      ]),
    );
  }

  private armSilence(): void {
    this.silenceTimer?.cancel();
    this.silenceTimer = this.clock.setTimer(this.o.silenceMs, () => {
      if (this.state !== 'loading') return;
      if (++this.retriesWithoutProgress > this.o.maxRetries) return this.fail(`no progress after ${this.o.maxRetries} requests at block ${this.expected}`);
      this.result.rerequests++;
      this.sendRequest(this.expected);
      this.armSilence();
    });
  }

  private problem(p: string): void {
    if (this.result.problems.length < 50) this.result.problems.push(p);
  }

  private onFrame(f: Buffer): void {
    if (this.state === 'done' || this.state === 'failed') return;
    if (f.length < 17 || !f.subarray(0, 6).equals(macBytes(this.o.mac))) return; // not for us
    const len = f.readUInt16BE(12);
    if (len >= 0x600) return; // Ethernet II: not RPL
    if (f.length < 60) this.problem(`frame of ${f.length} bytes is not padded to 60`);
    if (14 + len > f.length) return this.problem('802.3 length runs past the frame');
    if (f[14] !== 0xfc || f[15] !== 0xfc || f[16] !== 0x03) return this.problem(`LLC ${f.subarray(14, 17).toString('hex')} is not fc fc 03`);
    if (f.subarray(14 + len).some((x) => x !== 0)) this.problem('padding is not zero');
    const pdu = f.subarray(17, 14 + len);
    if (pdu.length < 4 || pdu.readUInt16BE(0) !== pdu.length) return this.problem('program length != 802.3 length - 3');
    const cmd = pdu.readUInt16BE(2);
    let v: Map<number, Array<[number, number]>>;
    try {
      v = walk(pdu, 4, pdu.length);
    } catch (e) {
      return this.problem((e as Error).message);
    }
    const one = (k: number, size: number): number | undefined => {
      const r = v.get(k)?.[0];
      if (!r) return undefined;
      if (r[1] - r[0] !== size) {
        this.problem(`vector 0x${k.toString(16)} has ${r[1] - r[0]} bytes`);
        return undefined;
      }
      return r[0];
    };

    if (cmd === 0x0002 && this.state === 'finding') {
      const c = one(0x4003, 4);
      const d = one(0x400c, 6);
      const s = one(0x4006, 6);
      const sapAt = one(0x4007, 1);
      const ci = v.get(0x0008)?.[0];
      if (c === undefined || d === undefined || s === undefined || !ci) return this.problem('FOUND lacks a vector');
      if (pdu.readUInt32BE(c) !== this.o.correlator) this.problem('FOUND does not echo the correlator');
      if (macText(pdu, d) !== this.o.mac) return this.problem('FOUND names another client');
      if (macText(pdu, s) !== macText(f, 6)) this.problem('FOUND source MAC vector != Ethernet source');
      const sub = walk(pdu, ci[0], ci[1]);
      const mf = sub.get(0x4009)?.[0];
      if (!mf) return this.problem('FOUND lacks max frame');
      const agreed = pdu.readUInt16BE(mf[0]);
      if (agreed > this.o.maxFrame) this.problem(`FOUND max frame ${agreed} > ours ${this.o.maxFrame}`);
      this.result.agreedMaxFrame = agreed;
      if (sapAt !== undefined) this.sap = pdu[sapAt]!;
      this.serverMac = Buffer.from(f.subarray(6, 12));
      this.result.serverMac = macText(f, 6);
      this.findTimer?.cancel();
      this.state = 'loading';
      this.sendRequest(0);
      this.armSilence();
      return;
    }

    if (cmd === 0x0020 && this.state === 'loading') {
      this.result.framesReceived++;
      this.result.largestFrame = Math.max(this.result.largestFrame, f.length);
      this.result.largestPayload = Math.max(this.result.largestPayload, len);
      if (this.result.agreedMaxFrame !== undefined && len > this.result.agreedMaxFrame) {
        this.problem(`802.3 payload ${len} exceeds the agreed max frame ${this.result.agreedMaxFrame}`);
      }
      const sq = one(0x4011, 4);
      const lh = one(0xc014, 9);
      const dv = v.get(0x4018)?.[0];
      if (sq === undefined || lh === undefined || !dv) return this.problem('FDR lacks a vector');
      const seq = pdu.readUInt32BE(sq);
      const locate = pdu.readUInt32BE(lh);
      const transfer = pdu.readUInt32BE(lh + 4);
      const flags = pdu[lh + 8]!;
      const data = pdu.subarray(dv[0], dv[1]);
      if (flags & 0x0f) this.problem(`reserved flag bits set: 0x${flags.toString(16)}`);
      if (this.dropOnce.delete(seq)) {
        this.result.dropped++; // simulated loss
        return;
      }
      if (seq !== this.expected) {
        this.result.outOfOrder++;
        if (this.o.nakOnGap && this.nakedFor !== this.expected && seq > this.expected) {
          this.nakedFor = this.expected;
          this.result.rerequests++;
          this.sendRequest(this.expected);
        }
        return;
      }
      if (!(flags & 0x20)) this.problem(`block ${seq} without LOCATE`);
      const last = (flags & 0x80) !== 0;
      if (!last && flags & 0x40) this.problem(`TRANSFER on non-final block ${seq}`);
      if (locate + data.length > this.result.memory.length) return this.fail(`block ${seq} at 0x${locate.toString(16)} is past 1 MiB`);
      data.copy(this.result.memory, locate);
      this.result.writes.push([locate, data.length]);
      this.result.accepted.push(seq);
      this.expected = seq + 1;
      this.retriesWithoutProgress = 0;
      this.armSilence();
      if (flags & 0x10) this.sendRequest(this.expected); // ACK-REQUEST
      if (last) {
        if (!(flags & 0x40)) this.problem('final block without TRANSFER');
        this.result.execute = transfer;
        this.result.lastFlags = flags;
        this.result.blocks = this.expected;
        this.finish();
      }
    }
  }

  private finish(): void {
    this.state = 'done';
    this.silenceTimer?.cancel();
    this.findTimer?.cancel();
    this.result.ok = true;
    this.resolve(this.result);
  }

  private fail(error: string): void {
    this.state = 'failed';
    this.silenceTimer?.cancel();
    this.findTimer?.cancel();
    this.result.error = error;
    this.resolve(this.result);
  }
}
