/**
 * The native TFTP read data path (native/tftp_engine.c): one socket per
 * transfer, DATA out / ACK in on the engine's own thread and libuv loop,
 * without a JS turn per datagram. JS decides everything before (request, options, confinement)
 * and after (logging, telemetry); this wrapper only starts, observes and
 * aborts engines and picks their port (TID).
 */
import { loadNative } from '../native.js';
import { PortRange, portTaken } from '../net/udp.js';
import type { TransferStats } from './transfer.js';

export interface EngineOptions {
  /** Whole content (cached or generated file)... */
  data?: Buffer;
  /** ...or a descriptor read with pread (the caller keeps it open until onDone/abort). */
  fd?: number;
  size: number;
  localAddress: string;
  peerAddress: string;
  peerPort: number;
  blksize: number;
  windowsize: number;
  rtoInitialMs: number;
  rtoMinMs: number;
  rtoMaxMs: number;
  /** Timeouts in a row before giving up (together with giveUpMs of silence). */
  retries: number;
  giveUpMs: number;
  /** No new block acknowledged for this long ends the transfer, whatever the RTO (a hard cap). */
  noProgressMs: number;
  /** Encoded OACK to send first; absent = start with DATA block 1. */
  oack?: Buffer;
  /** The client asked tsize: error 8 right after the OACK is the UEFI size probe. */
  probeCandidate?: boolean;
}

export type EngineOutcome =
  | ''
  | 'ok'
  | 'probe'
  | 'client-error'
  | 'timeout'
  | 'final-ack-timeout'
  | 'io-error'
  | 'client-gone' // ICMP port unreachable from the client
  | 'aborted';

export interface EngineStats extends TransferStats {
  outcome: EngineOutcome;
  detail: string;
  /** Packets from a wrong TID (answered with error 5). */
  strangers: number;
  malformed: number;
}

export type EngineHandle = { readonly __engine: unique symbol };

interface Addon {
  engineStart(
    opts: Omit<EngineOptions, never> & { localPort: number },
    onDone: (s: EngineStats) => void,
  ): { handle: EngineHandle; port: number };
  engineStats(h: EngineHandle): EngineStats | null;
  engineAbort(h: EngineHandle): EngineStats | null;
  engineFlush(): void;
}

let addon: Addon | undefined;
let loadError: Error | undefined;

function load(): Addon | undefined {
  if (addon || loadError) return addon;
  try {
    addon = loadNative<Addon>('lanboot_tftp');
  } catch (e) {
    loadError = e as Error;
  }
  return addon;
}

/** Why the native engine cannot be used, or undefined when it can. */
export function engineUnavailable(): string | undefined {
  load();
  return addon ? undefined : (loadError?.message ?? 'not loaded');
}

/**
 * Starts engines on ports from a fixed range (round robin, skipping ports in
 * use: the engine binds without SO_REUSEADDR, so the kernel refuses any port
 * another socket holds) or anywhere (port 0).
 */
export class EnginePorts {
  private readonly range?: PortRange;
  constructor(range?: [number, number]) {
    if (range) this.range = new PortRange(range[0], range[1]);
  }

  /** Throws EADDRINUSE when the range is exhausted; onDone never runs after engineAbort. */
  start(opts: EngineOptions, onDone: (s: EngineStats) => void): { handle: EngineHandle; port: number } {
    const a = load();
    if (!a) throw new Error(`native TFTP engine unavailable: ${loadError?.message}`);
    const o = {
      ...opts,
      rtoInitialMs: Math.max(1, Math.round(opts.rtoInitialMs)),
      rtoMinMs: Math.max(1, Math.round(opts.rtoMinMs)),
      rtoMaxMs: Math.max(1, Math.round(opts.rtoMaxMs)),
      giveUpMs: Math.max(0, Math.round(opts.giveUpMs)),
      noProgressMs: Math.max(1, Math.round(opts.noProgressMs)),
      localPort: 0,
    };
    if (!this.range) return a.engineStart(o, onDone);
    for (const port of this.range.ports()) {
      try {
        return a.engineStart({ ...o, localPort: port }, onDone);
      } catch (e) {
        if (!portTaken(e)) throw e;
      }
    }
    throw this.range.exhausted();
  }
}

export function engineStats(h: EngineHandle): EngineStats | null {
  return load()!.engineStats(h);
}

/**
 * Runs the onDone callbacks of transfers the engine thread has finished but
 * not yet reported (they are otherwise reported on the next loop turn).
 */
export function engineFlush(): void {
  if (addon) addon.engineFlush();
}

/** Stops the engine at once (socket closed); returns its last stats. No onDone follows. */
export function engineAbort(h: EngineHandle): EngineStats | null {
  return load()!.engineAbort(h);
}
