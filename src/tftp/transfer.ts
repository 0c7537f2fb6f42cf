/**
 * One TFTP transfer = one ephemeral socket (its TID) and a small state
 * machine. ReadTransfer sends (RRQ), WriteTransfer receives (WRQ).
 *
 * Hot path (ReadTransfer): blocks live in a ring of pre-allocated slots
 * (4-byte DATA header + blksize), filled by copy from a cached file or by
 * one readv() per refill from a shared descriptor; sends reference the slot
 * directly. One lazily re-armed timer per transfer (no timer per packet).
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { RemoteInfo } from 'node:dgram';
import {
  encode,
  decode,
  writeDataHeader,
  ERR_UNKNOWN_TID,
  ERR_DISK_FULL,
  ERR_UNDEFINED,
  ERR_OPTION,
  OP_ACK,
  OP_DATA,
  OP_ERROR,
  TftpDecodeError,
  type TftpOptions,
} from '../codec/tftp.js';
import type { TransferPort, UdpSocket } from '../net/udp.js';
import { RtoEstimator } from './rto.js';
import { engineAbort, engineStats, type EngineHandle, type EnginePorts, type EngineStats } from './engine.js';
import { NetasciiDecoder } from './netascii.js';

export interface Peer {
  address: string;
  port: number;
}

export type Outcome =
  | 'ok'
  | 'probe' // UEFI tsize probe: OACK then error 8
  | 'client-error' // client sent an ERROR
  | 'timeout'
  | 'final-ack-timeout' // all data sent, the last ACK never came
  | 'io-error'
  | 'client-gone' // ICMP port unreachable from the client
  | 'aborted'; // server stop / replaced

export interface TransferStats {
  bytes: number;
  blocks: number;
  retransmissions: number;
  duplicateAcks: number;
  goBacks: number;
  durationMs: number;
  rttMs: number;
}

export interface TransferTiming {
  retries: number;
  rtoInitialMs: number;
  rtoMinMs: number;
  rtoMaxMs: number;
  /** Silence (no progress) after which a transfer is abandoned, once retries are spent too. */
  giveUpMs: number;
}

export type DoneFn = (outcome: Outcome, stats: TransferStats, detail?: string) => void;

const ERR5 = encode({ op: 'ERROR', code: ERR_UNKNOWN_TID, message: 'Unknown transfer ID' });
/** Read-ahead per descriptor-backed transfer (bytes), and the iovec limit. */
const READAHEAD_BYTES = 256 * 1024;
const IOV_MAX = 1024;

export function errorPacket(code: number, message: string): Buffer {
  return encode({ op: 'ERROR', code, message });
}

abstract class Transfer {
  protected closed = false;
  protected timer: NodeJS.Timeout | undefined;
  protected deadline = 0;
  protected consecutiveTimeouts = 0;
  protected lastProgress = performance.now();
  protected readonly rto: RtoEstimator;
  protected readonly started = performance.now();
  /** Wall clock start (ms since epoch) for status views. */
  readonly startedAt = Date.now();
  retransmissions = 0;
  strangers = 0;
  /** Packets from the peer that were not understood (counted, dropped). */
  malformed = 0;

  protected readonly sock: UdpSocket;
  private readonly stray: UdpSocket;

  constructor(
    port: TransferPort,
    readonly peer: Peer,
    protected readonly timing: TransferTiming,
    protected readonly done: DoneFn,
  ) {
    this.rto = new RtoEstimator(timing.rtoInitialMs, timing.rtoMinMs, timing.rtoMaxMs);
    this.sock = port.sock;
    this.stray = port.stray;
    // Synchronous: the socket lookup answers literals at once.
    this.sock.connect(peer.port, peer.address);
    // The connected socket only ever sees the peer (kernel-filtered): no TID check needed.
    this.sock.on('message', (msg) => this.fromPeer(msg));
    this.stray.on('message', (msg, rinfo) => this.receive(msg, rinfo));
    this.sock.on('error', (e: NodeJS.ErrnoException) =>
      // ECONNREFUSED: the client's port is gone (ICMP unreachable).
      this.finish(e.code === 'ECONNREFUSED' ? 'client-gone' : 'io-error', e.code ?? e.message),
    );
    this.stray.on('error', () => undefined);
  }

  /** Send to the peer over the connected socket. */
  protected out(buf: Buffer, len?: number): void {
    if (len === undefined) this.sock.send(buf);
    else this.sock.send(buf, 0, len);
  }

  private receive(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    if (rinfo.port !== this.peer.port || rinfo.address !== this.peer.address) {
      // RFC 1350: a packet from a wrong TID gets error 5; the transfer goes on.
      this.strangers++;
      this.stray.send(ERR5, rinfo.port, rinfo.address);
      return;
    }
    this.fromPeer(msg);
  }

  private fromPeer(msg: Buffer): void {
    if (this.closed) return;
    try {
      this.onPacket(msg);
    } catch (e) {
      if (e instanceof TftpDecodeError) this.malformed++;
      else this.finish('io-error', (e as Error).message);
    }
  }

  protected exhausted(): boolean {
    return (
      this.consecutiveTimeouts > this.timing.retries && performance.now() - this.lastProgress >= this.timing.giveUpMs
    );
  }

  protected abstract onPacket(msg: Buffer): void;
  protected abstract onTimeout(): void;
  abstract stats(): TransferStats;
  /** Total size when known (reads). */
  abstract get size(): number | undefined;

  protected timerAt = 0;

  protected arm(): void {
    const now = performance.now();
    this.deadline = now + this.rto.rto;
    this.schedule(now);
  }

  /** Keep one timer; move it only when the deadline got earlier than it (lazy otherwise). */
  protected schedule(now: number): void {
    if (this.timer) {
      if (this.timerAt <= this.deadline + 1) return;
      clearTimeout(this.timer);
    }
    const ms = Math.max(0, this.deadline - now);
    this.timerAt = now + ms;
    this.timer = setTimeout(this.fire, ms);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    if (this.closed) return;
    const left = this.deadline - performance.now();
    if (left > 0.5) {
      this.timerAt = this.deadline;
      this.timer = setTimeout(this.fire, left);
      return;
    }
    this.onTimeout();
  };

  /** Peer-visible error, then stop. */
  protected fail(code: number, message: string, outcome: Outcome, detail?: string): void {
    if (this.closed) return;
    this.out(errorPacket(code, message));
    this.finish(outcome, detail ?? message);
  }

  finish(outcome: Outcome, detail?: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.cleanup(outcome);
    // Let queued sends (an error packet) leave before the socket goes.
    setImmediate(() => {
      for (const s of [this.sock, this.stray]) {
        try {
          s.close();
        } catch {
          /* closed */
        }
      }
    });
    this.done(outcome, this.stats(), detail);
  }

  protected cleanup(_outcome: Outcome): void {}

  get isClosed(): boolean {
    return this.closed;
  }
}

export interface ReadSource {
  size: number;
  data?: Buffer;
  fd?: number;
  release(): void;
}

export class ReadTransfer extends Transfer {
  private state: 'oack' | 'data' = 'data';
  private readonly B: number;
  private readonly W: number;
  private readonly total: number;
  private readonly R: number;
  private readonly slotBuf: Buffer[] = [];
  private readonly slotData: Buffer[] = [];
  private readonly slotBlock: Int32Array | undefined;
  private acked = 0;
  private next = 1;
  private sentHigh = 0;
  private loadedUpTo = 0;
  private loading = false;
  private waiting = false;
  private dupGoBackDone = false;
  private sampleBlock = -1;
  private sampleAt = 0;
  private duplicateAcks = 0;
  private goBacks = 0;
  private oackBuf: Buffer | undefined;
  private oackSentAt = 0;
  private oackRetransmitted = false;
  /** The client asked tsize; an error 8 right after the OACK is then the UEFI size probe. */
  probeCandidate = false;

  constructor(
    port: TransferPort,
    peer: Peer,
    private readonly src: ReadSource,
    blksize: number,
    windowsize: number,
    oack: TftpOptions,
    timing: TransferTiming,
    done: DoneFn,
  ) {
    super(port, peer, timing, done);
    this.B = blksize;
    this.W = windowsize;
    this.total = Math.floor(src.size / blksize) + 1;
    if (oack.length > 0) {
      this.state = 'oack';
      this.oackBuf = encode({ op: 'OACK', options: oack });
    }
    const fromFd = src.data === undefined;
    const want = fromFd ? Math.max(2 * windowsize, Math.ceil(READAHEAD_BYTES / blksize)) : windowsize;
    this.R = Math.max(1, Math.min(want, fromFd ? IOV_MAX : want, this.total));
    const stride = 4 + blksize;
    const arena = Buffer.allocUnsafeSlow(this.R * stride);
    for (let s = 0; s < this.R; s++) {
      const v = arena.subarray(s * stride, (s + 1) * stride);
      this.slotBuf.push(v);
      this.slotData.push(v.subarray(4));
    }
    if (!fromFd) {
      this.slotBlock = new Int32Array(this.R).fill(-1);
    }
  }

  start(): void {
    if (this.state === 'oack') {
      this.oackSentAt = performance.now();
      this.out(this.oackBuf!);
      this.arm();
      if (this.src.fd !== undefined) this.maybeLoad();
    } else {
      this.sendWindow();
    }
  }

  private blockLen(b: number): number {
    return b < this.total ? this.B : this.src.size - (this.total - 1) * this.B;
  }

  private sendWindow(): void {
    if (this.closed) return;
    const end = Math.min(this.acked + this.W, this.total);
    const data = this.src.data;
    const now = performance.now();
    while (this.next <= end) {
      const b = this.next;
      const s = (b - 1) % this.R;
      const len = this.blockLen(b);
      if (data === undefined) {
        if (b > this.loadedUpTo) {
          this.waiting = true;
          this.maybeLoad();
          break;
        }
      } else if (this.slotBlock![s] !== b) {
        const off = (b - 1) * this.B;
        data.copy(this.slotData[s]!, 0, off, off + len);
        this.slotBlock![s] = b;
      }
      const buf = this.slotBuf[s]!;
      writeDataHeader(buf, 0, b & 0xffff);
      if (b <= this.sentHigh) this.retransmissions++;
      else if (b === end && this.sampleBlock < 0) {
        this.sampleBlock = b;
        this.sampleAt = now;
      }
      if (len === this.B) this.sock.send(buf);
      else this.sock.send(buf, 0, 4 + len);
      this.next = b + 1;
    }
    if (this.next - 1 > this.sentHigh) this.sentHigh = this.next - 1;
    this.deadline = now + this.rto.rto;
    this.schedule(now);
    if (data === undefined) this.maybeLoad();
  }

  private maybeLoad(): void {
    const fd = this.src.fd;
    if (this.loading || fd === undefined || this.closed) return;
    const limit = Math.min(this.acked + this.R, this.total);
    const free = limit - this.loadedUpTo;
    if (free <= 0) return;
    // Refill in big batches unless the sender is starved.
    if (free < this.R / 2 && !this.waiting && this.loadedUpTo >= this.next) return;
    const from = this.loadedUpTo + 1;
    const bufs: Buffer[] = [];
    let expect = 0;
    for (let b = from; b <= limit; b++) {
      const len = this.blockLen(b);
      const d = this.slotData[(b - 1) % this.R]!;
      bufs.push(len === this.B ? d : d.subarray(0, len));
      expect += len;
    }
    this.loading = true;
    fs.readv(fd, bufs, (from - 1) * this.B, (err, n) => {
      this.loading = false;
      if (this.closed) return;
      if (err) return this.fail(ERR_UNDEFINED, 'Read error', 'io-error', err.message);
      if (n < expect) return this.fail(ERR_UNDEFINED, 'File changed during transfer', 'io-error');
      this.loadedUpTo = limit;
      if (this.waiting) {
        this.waiting = false;
        if (this.state === 'data') this.sendWindow();
      }
      this.maybeLoad();
    });
  }

  protected onPacket(msg: Buffer): void {
    if (msg.length >= 4 && msg[0] === 0 && msg[1] === OP_ACK) {
      this.onAck((msg[2]! << 8) | msg[3]!);
      return;
    }
    if (msg.length >= 4 && msg[0] === 0 && msg[1] === OP_ERROR) {
      const p = decode(msg);
      if (p.op !== 'ERROR') return;
      if (this.state === 'oack' && p.code === ERR_OPTION && this.probeCandidate) this.finish('probe', p.message);
      else this.finish('client-error', `${p.code} ${p.message}`);
      return;
    }
    this.malformed++;
  }

  private onAck(wire: number): void {
    const now = performance.now();
    if (this.state === 'oack') {
      if (wire !== 0) return;
      this.state = 'data';
      this.probeCandidate = false;
      this.lastProgress = now;
      if (!this.oackRetransmitted) this.rto.sample(now - this.oackSentAt);
      this.consecutiveTimeouts = 0;
      this.sendWindow();
      return;
    }
    const d = (wire - (this.acked & 0xffff)) & 0xffff;
    if (d === 0) {
      this.duplicateAcks++;
      // Lock-step: never answer a duplicate ACK (Sorcerer's Apprentice).
      // Windowed: the first block of the window was lost; go back once.
      if (this.W > 1 && this.sentHigh > this.acked && !this.dupGoBackDone) {
        this.dupGoBackDone = true;
        this.goBack();
      }
      return;
    }
    if (d > this.sentHigh - this.acked) return; // stale or bogus
    this.acked += d;
    this.consecutiveTimeouts = 0;
    this.lastProgress = now;
    this.dupGoBackDone = false;
    if (this.sampleBlock > 0 && this.acked >= this.sampleBlock) {
      this.rto.sample(now - this.sampleAt);
      this.sampleBlock = -1;
    } else this.rto.progressed();
    if (this.acked >= this.total) {
      this.finish('ok');
      return;
    }
    if (this.acked < this.next - 1) {
      // RFC 7440: an ACK inside the window means the rest was lost.
      this.goBack();
      return;
    }
    this.sendWindow();
  }

  private goBack(): void {
    this.goBacks++;
    this.sampleBlock = -1; // Karn
    this.next = this.acked + 1;
    this.sendWindow();
  }

  protected onTimeout(): void {
    this.consecutiveTimeouts++;
    if (this.exhausted()) {
      const allSent = this.state === 'data' && this.sentHigh >= this.total;
      this.finish(allSent ? 'final-ack-timeout' : 'timeout', `no ACK after ${this.timing.retries} retries`);
      return;
    }
    this.rto.timedOut();
    this.sampleBlock = -1;
    if (this.state === 'oack') {
      this.oackRetransmitted = true;
      this.retransmissions++;
      this.out(this.oackBuf!);
      this.arm();
      return;
    }
    this.dupGoBackDone = false;
    this.next = this.acked + 1;
    this.sendWindow();
    this.arm();
  }

  protected override cleanup(): void {
    this.src.release();
  }

  get size(): number {
    return this.src.size;
  }

  stats(): TransferStats {
    const blocks = Math.min(this.acked, this.total);
    return {
      bytes: Math.min(this.acked * this.B, this.src.size),
      blocks,
      retransmissions: this.retransmissions,
      duplicateAcks: this.duplicateAcks,
      goBacks: this.goBacks,
      durationMs: performance.now() - this.started,
      rttMs: this.rto.smoothed,
    };
  }
}

export interface UploadTarget {
  /** Temporary file, created O_EXCL in the target's directory. */
  tmpPath: string;
  fd: number;
  /** Moves the temp file into place; rejects with a code when it may not. */
  commit(): Promise<void>;
  discard(): void;
}

export class WriteTransfer extends Transfer {
  private state: 'oack' | 'data' | 'dally' = 'data';
  private received = 0;
  private sinceAck = 0;
  private offset = 0;
  private pendingWrites = 0;
  private writeError: Error | undefined;
  private gapAcked = false;
  private finalAck: Buffer | undefined;
  private readonly oackBuf: Buffer | undefined;
  private readonly netascii: NetasciiDecoder | undefined;
  private lastAckAt = 0;
  private committing = false;

  constructor(
    port: TransferPort,
    peer: Peer,
    private readonly target: UploadTarget,
    private readonly B: number,
    private readonly W: number,
    oack: TftpOptions,
    netascii: boolean,
    private readonly maxBytes: number,
    timing: TransferTiming,
    done: DoneFn,
  ) {
    super(port, peer, timing, done);
    if (oack.length > 0) {
      this.state = 'oack';
      this.oackBuf = encode({ op: 'OACK', options: oack });
    }
    if (netascii) this.netascii = new NetasciiDecoder();
  }

  start(): void {
    if (this.oackBuf) this.out(this.oackBuf);
    else this.sendAck();
    this.arm();
  }

  private sendAck(): void {
    // A fresh 4-byte buffer per ACK: the previous one may still be queued.
    const b = Buffer.allocUnsafe(4);
    b[0] = 0;
    b[1] = OP_ACK;
    b[2] = (this.received >>> 8) & 0xff;
    b[3] = this.received & 0xff;
    this.lastAckAt = performance.now();
    this.out(b);
  }

  protected onPacket(msg: Buffer): void {
    if (msg.length >= 4 && msg[0] === 0 && msg[1] === OP_DATA) {
      this.onData((msg[2]! << 8) | msg[3]!, msg.subarray(4));
      return;
    }
    if (msg.length >= 4 && msg[0] === 0 && msg[1] === OP_ERROR) {
      const p = decode(msg);
      if (p.op === 'ERROR') this.finish('client-error', `${p.code} ${p.message}`);
      return;
    }
    this.malformed++;
  }

  private onData(wire: number, data: Buffer): void {
    if (this.state === 'dally') {
      // The client missed our final ACK: repeat it.
      if (this.finalAck) this.out(this.finalAck);
      return;
    }
    if (data.length > this.B) {
      this.malformed++;
      return;
    }
    const d = (wire - (this.received & 0xffff)) & 0xffff;
    if (d !== 1) {
      if (d === 0 && this.W === 1) {
        this.retransmissions++;
        this.sendAck(); // the client missed our ACK (RFC 1350 lock-step)
      } else if (d > 1 && d < 0x8000 && this.W > 1 && !this.gapAcked) {
        this.gapAcked = true; // RFC 7440: one ACK of the last in-order block per gap
        this.sinceAck = 0;
        this.sendAck();
      }
      return;
    }
    if (this.state === 'oack') this.state = 'data';
    if (this.lastAckAt && this.sinceAck === 0) this.rto.sample(performance.now() - this.lastAckAt);
    this.received++;
    this.lastProgress = performance.now();
    this.gapAcked = false;
    this.consecutiveTimeouts = 0;
    const out = this.netascii ? this.netascii.push(data) : data;
    const tail = data.length < this.B && this.netascii ? this.netascii.end() : undefined;
    this.write(out);
    if (tail && tail.length) this.write(tail);
    if (this.offset > this.maxBytes) {
      this.fail(ERR_DISK_FULL, 'Upload too large', 'io-error');
      return;
    }
    this.sinceAck++;
    if (data.length < this.B) {
      // The final ACK goes out once the file is in place: ACK = stored.
      this.complete();
      return;
    }
    if (this.sinceAck >= this.W) {
      this.sinceAck = 0;
      this.sendAck();
    }
    this.arm();
  }

  private write(buf: Buffer): void {
    if (buf.length === 0) return;
    const pos = this.offset;
    this.offset += buf.length;
    this.pendingWrites++;
    fs.write(this.target.fd, buf, 0, buf.length, pos, (err) => {
      this.pendingWrites--;
      if (err && !this.writeError) {
        this.writeError = err;
        const full = (err as NodeJS.ErrnoException).code === 'ENOSPC';
        this.fail(full ? ERR_DISK_FULL : ERR_UNDEFINED, full ? 'Disk full' : 'Write error', 'io-error', err.message);
      }
      if (this.pendingWrites === 0 && this.committing) this.commitNow();
    });
  }

  private complete(): void {
    this.state = 'dally';
    this.committing = true;
    if (this.pendingWrites === 0) this.commitNow();
  }

  private commitNow(): void {
    this.committing = false;
    if (this.closed) return;
    const t = this.target;
    fs.close(t.fd, (err) => {
      if (err) return this.finish('io-error', err.message);
      t.commit().then(
        () => {
          if (this.closed) return;
          this.finalAck = Buffer.from([0, OP_ACK, (this.received >>> 8) & 0xff, this.received & 0xff]);
          this.out(this.finalAck);
          // RFC 1350 dally: stay a little to re-ACK a repeated final DATA.
          const dally = Math.min(Math.max(2 * this.rto.rto, 200), 2000);
          setTimeout(() => this.finish('ok'), dally).unref();
        },
        (e: Error & { tftpCode?: number }) => {
          this.fail(e.tftpCode ?? ERR_UNDEFINED, e.message, 'io-error');
        },
      );
    });
  }

  protected onTimeout(): void {
    if (this.state === 'dally') return;
    this.consecutiveTimeouts++;
    if (this.exhausted()) {
      this.finish('timeout', `no DATA after ${this.timing.retries} retries`);
      return;
    }
    this.rto.timedOut();
    this.retransmissions++;
    if (this.state === 'oack') this.out(this.oackBuf!);
    else {
      this.sinceAck = 0;
      this.sendAck();
    }
    this.arm();
  }

  protected override cleanup(outcome: Outcome): void {
    if (outcome !== 'ok') {
      if (this.state !== 'dally' || this.committing) {
        fs.close(this.target.fd, () => undefined);
      }
      this.target.discard();
    }
  }

  get size(): undefined {
    return undefined;
  }

  stats(): TransferStats {
    return {
      bytes: this.offset,
      blocks: this.received,
      retransmissions: this.retransmissions,
      duplicateAcks: 0,
      goBacks: 0,
      durationMs: performance.now() - this.started,
      rttMs: this.rto.smoothed,
    };
  }
}

/**
 * A read transfer whose packet loop runs in native/tftp_engine.c (octet
 * mode only). Same outward shape as ReadTransfer for the server; the engine
 * owns its socket, JS owns the source and releases it when the engine is done.
 */
export class NativeReadTransfer {
  readonly startedAt = Date.now();
  strangers = 0;
  malformed = 0;
  /** The client asked tsize (see ReadTransfer.probeCandidate). */
  probeCandidate = false;
  private handle: EngineHandle | undefined;
  private closed = false;
  private last: EngineStats | undefined;
  private readonly oackBuf: Buffer | undefined;

  constructor(
    private readonly ports: EnginePorts,
    private readonly localAddress: string,
    readonly peer: Peer,
    private readonly src: ReadSource,
    private readonly blksize: number,
    private readonly windowsize: number,
    oack: TftpOptions,
    private readonly timing: TransferTiming,
    private readonly done: DoneFn,
  ) {
    if (oack.length > 0) this.oackBuf = encode({ op: 'OACK', options: oack });
  }

  /** Binds the TID and sends the OACK or block 1; throws (nothing started, source kept) if no port. */
  start(): void {
    const t = this.timing;
    const { handle } = this.ports.start(
      {
        data: this.src.data,
        fd: this.src.data ? undefined : this.src.fd,
        size: this.src.size,
        localAddress: this.localAddress,
        peerAddress: this.peer.address,
        peerPort: this.peer.port,
        blksize: this.blksize,
        windowsize: this.windowsize,
        rtoInitialMs: t.rtoInitialMs,
        rtoMinMs: t.rtoMinMs,
        rtoMaxMs: t.rtoMaxMs,
        retries: t.retries,
        giveUpMs: t.giveUpMs,
        oack: this.oackBuf,
        probeCandidate: this.probeCandidate,
      },
      (s) => this.ended(s),
    );
    this.handle = handle;
  }

  private ended(s: EngineStats): void {
    if (this.closed) return;
    this.closed = true;
    this.last = s;
    this.handle = undefined;
    this.strangers = s.strangers;
    this.malformed = s.malformed;
    this.src.release();
    this.done((s.outcome || 'aborted') as Outcome, this.stats(), s.detail || undefined);
  }

  finish(outcome: Outcome, detail?: string): void {
    if (this.closed) return;
    this.closed = true;
    const h = this.handle;
    this.handle = undefined;
    const s = h ? engineAbort(h) : null;
    if (s) {
      this.last = s;
      this.strangers = s.strangers;
      this.malformed = s.malformed;
    }
    this.src.release();
    this.done(outcome, this.stats(), detail);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get size(): number {
    return this.src.size;
  }

  stats(): TransferStats {
    const s = (this.handle && engineStats(this.handle)) || this.last;
    return {
      bytes: s?.bytes ?? 0,
      blocks: s?.blocks ?? 0,
      retransmissions: s?.retransmissions ?? 0,
      duplicateAcks: s?.duplicateAcks ?? 0,
      goBacks: s?.goBacks ?? 0,
      durationMs: s?.durationMs ?? Date.now() - this.startedAt,
      rttMs: s?.rttMs ?? 0,
    };
  }
}
