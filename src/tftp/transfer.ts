/**
 * What every TFTP transfer shares (outcomes, stats, timing), and the upload
 * side: WriteTransfer receives a WRQ on its own ephemeral socket (its TID)
 * with a small state machine and one lazily re-armed timer. Reads run in
 * the native engine (./read.ts).
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { RemoteInfo } from 'node:dgram';
import {
  encode,
  decode,
  ERR_UNKNOWN_TID,
  ERR_DISK_FULL,
  ERR_UNDEFINED,
  OP_ACK,
  OP_DATA,
  OP_ERROR,
  TftpDecodeError,
  type TftpOptions,
} from '../codec/tftp.js';
import type { TransferPort, UdpSocket } from '../net/udp.js';
import { RtoEstimator } from './rto.js';
import { NetasciiDecoder } from './netascii.js';
import type { UploadTarget } from './uploads.js';

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
  /** No progress for this long ends the transfer whatever the RTO and retries say (a hard cap). */
  noProgressMs: number;
}

/** The log detail of a transfer ended by TransferTiming.noProgressMs (the engine writes the same). */
export const noProgressDetail = (ms: number): string => `no progress for ${ms / 1000} s`;

export type DoneFn = (outcome: Outcome, stats: TransferStats, detail?: string) => void;

const ERR5 = encode({ op: 'ERROR', code: ERR_UNKNOWN_TID, message: 'Unknown transfer ID' });

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

  /** The no-progress cap is reached (1 ms early counts: timers round). */
  protected stalled(): boolean {
    return performance.now() - this.lastProgress >= this.timing.noProgressMs - 1;
  }

  protected abstract onPacket(msg: Buffer): void;
  protected abstract onTimeout(): void;
  abstract stats(): TransferStats;
  /** Total size when known (reads). */
  abstract get size(): number | undefined;

  protected timerAt = 0;

  /** Next timeout: one RTO from now, or the no-progress cap if that comes first. */
  protected arm(): void {
    const now = performance.now();
    this.deadline = Math.min(now + this.rto.rto, this.lastProgress + this.timing.noProgressMs);
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
    if (this.stalled()) {
      this.finish('timeout', noProgressDetail(this.timing.noProgressMs));
      return;
    }
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
