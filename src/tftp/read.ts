import { encode, type TftpOptions } from '../codec/tftp.js';
import { engineAbort, engineStats, type EngineHandle, type EnginePorts, type EngineStats } from './engine.js';
import type { ReadSource } from './sources.js';
import type { DoneFn, Outcome, Peer, TransferStats, TransferTiming } from './transfer.js';

/**
 * A read transfer (RRQ): its packet loop (OACK, windows of DATA, ACKs,
 * retransmission with an adaptive RTO, go-back on a partial ACK) runs in
 * native/tftp_engine.c on an engine thread; the engine owns its socket (the
 * TID), JS owns the source and releases it when the engine is done. Every
 * read goes this way: octet and netascii, generated and cached files, and
 * files shared by descriptor.
 */
export class ReadTransfer {
  readonly startedAt = Date.now();
  strangers = 0;
  malformed = 0;
  /** The client asked tsize: an error 8 right after the OACK is then the UEFI size probe. */
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
        noProgressMs: t.noProgressMs,
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
