/**
 * RPL responder (docs/rpl.md §6): answers FIND from known clients with
 * FOUND, then streams the boot image as FILE.DATA.RESPONSE frames, going back
 * when the client asks for an earlier block. One session per client MAC.
 *
 * The state machine is driven only by receive() and an injected clock, and
 * produces frames through the links it was given (anything with `mac` and
 * `send()`, e.g. a packet-socket FrameLink), so tests can run it in memory.
 */
import type { RplLoadView } from '../views.js';
import {
  decode,
  encode,
  FLAG_ACK_REQUEST,
  FLAG_END_OF_FILE,
  FLAG_LOCATE,
  FLAG_TRANSFER,
  FDR_FIXED_LENGTH,
  RPL_GROUP_MAC,
  RplDecodeError,
  SAP_LOAD,
  SAP_RPL,
  type FindPdu,
  type RplFrame,
  type SendFileRequestPdu,
} from '../codec/rpl.js';
import type { RplConfig } from '../config/types.js';
import type { RplAnswer } from '../plan/types.js';
import { silent, type Logger } from '../log.js';
import { telemetry as defaultTelemetry, type Telemetry } from '../telemetry.js';
import { realClock, type RplClock, type RplTimer } from './clock.js';
import { tryNormalizeMac } from '../net/address.js';
import { FileImageStore, imageWarnings, type ImageSource } from './images.js';

/** What the responder needs from a link: a FrameLink from src/net/packet.ts fits. */
export interface RplLink {
  /** Our MAC on this interface (source of every frame we send). */
  mac: string;
  /** Interface MTU (802.3 payload limit), if known. */
  mtu?: number;
  send(frame: Buffer): void;
  on(event: 'frame', fn: (frame: Buffer) => void): unknown;
  off?(event: 'frame', fn: (frame: Buffer) => void): unknown;
  removeListener?(event: 'frame', fn: (frame: Buffer) => void): unknown;
}

/** The boot plan, narrowed to what RPL asks. */
export interface RplPlan {
  rpl(mac: string): RplAnswer | undefined;
}

/** Responder settings: RplConfig's sap and session_timeout plus tuning knobs (all optional). */
export interface RplResponderConfig {
  /** SAP we send with and put in FOUND (rpld's -s). Default 0xFC. */
  sap?: number;
  /** Seconds of silence after which a session is dropped; also how long re-requests for the final blocks are still answered. Default 30. */
  session_timeout?: number;
  /** ms without a re-request after the final block before the load counts as done (and is logged). Default 1000. */
  settle_ms?: number;
  /** ms to wait for the acknowledgement an ACK-REQUEST asked for before re-sending that block once. Default 500. */
  ack_timeout_ms?: number;
  /** Most sessions kept at once (oldest idle one is dropped). Default 256. */
  max_sessions?: number;
}

export interface RplHooks {
  plan: RplPlan;
  /** Directory relative image paths are resolved against (the TFTP root). */
  root: string;
  log?: Logger;
  telemetry?: Telemetry;
  clock?: RplClock;
  /** Override where image bytes come from (tests). Default: FileImageStore(root). */
  images?: ImageSource;
}

type State = 'found' | 'loading' | 'await-ack' | 'sent' | 'done';

/** One load in progress for the status page: the common view plus what RPL adds. `bytes` = image bytes sent in order so far. */
export interface RplLoadInfo extends RplLoadView {
  /** found | loading | await-ack | sent | done */
  state: string;
  frames: number;
  rerequests: number;
}

interface Block {
  data: Buffer;
  locate: number;
}

interface Session {
  mac: string;
  link: RplLink;
  iface: string;
  answer: RplAnswer;
  files: Buffer[];
  imageLabel: string;
  imageBytes: number;
  clientMaxFrame?: number;
  memoryKiB?: number;
  maxFrame: number;
  blockSize: number;
  blocks: Block[];
  state: State;
  /** Next block to send. */
  next: number;
  /** Highest block sent so far (-1: none). */
  highest: number;
  nextDue: number;
  pacingMs: number;
  ackSeq: number;
  ackDeadline: number;
  ackResent: boolean;
  lastGoBack: { seq: number; at: number };
  lastActivity: number;
  started: number;
  finished: number;
  frames: number;
  rerequests: number;
  /** Image bytes in blocks 0..highest. */
  bytesSent: number;
  logged: boolean;
}

const UNKNOWN_LOG_MS = 60_000;
const MAX_UNKNOWN_TRACKED = 4096;
const HOUSEKEEPING_MS = 250;
/** Frames one session may send back to back in one pump round. */
const MAX_BURST = 32;
const MAX_FRAME = 1500;
const MIN_BLOCK = 16;

/** Links report their MAC canonical already; a test link may not. */
function normMac(m: string): string {
  return tryNormalizeMac(m) ?? m.toLowerCase();
}

/** docs/rpl.md §8: data per block = min(configured, maxFrame - 48), multiple of 16, at least 16. */
export function blockSizeFor(configured: number, maxFrame: number): number {
  const b = Math.min(configured, maxFrame - 48, MAX_FRAME - 3 - FDR_FIXED_LENGTH);
  return Math.max(MIN_BLOCK, Math.floor(b / 16) * 16);
}

/** docs/rpl.md §7: all files form one sequence; a block never spans two files. */
export function buildBlocks(files: Buffer[], loads: number[], blockSize: number): Block[] {
  const out: Block[] = [];
  files.forEach((data, i) => {
    for (let off = 0; off < data.length; off += blockSize) {
      out.push({ data: data.subarray(off, Math.min(data.length, off + blockSize)), locate: loads[i]! + off });
    }
  });
  // An empty image still needs one block to carry END-OF-FILE and the transfer address.
  if (out.length === 0) out.push({ data: Buffer.alloc(0), locate: loads[0] ?? 0 });
  return out;
}

export class RplResponder {
  private readonly sap: number;
  private readonly sessionTimeoutMs: number;
  private readonly settleMs: number;
  private readonly ackTimeoutMs: number;
  private readonly maxSessions: number;
  private plan: RplPlan;
  private readonly log: Logger;
  private readonly tm: Telemetry;
  private readonly clock: RplClock;
  private readonly images: ImageSource;
  private readonly sessions = new Map<string, Session>();
  private readonly unknownLogged = new Map<string, number>();
  private readonly links = new Map<RplLink, { iface: string; fn: (f: Buffer) => void }>();
  private pumpTimer?: RplTimer;
  private pumpAt = Infinity;
  private houseTimer?: RplTimer;
  private closed = false;

  constructor(config: RplResponderConfig | RplConfig, hooks: RplHooks) {
    const c = config as RplResponderConfig;
    this.sap = c.sap ?? SAP_RPL;
    this.sessionTimeoutMs = (c.session_timeout ?? 30) * 1000;
    this.settleMs = c.settle_ms ?? 1000;
    this.ackTimeoutMs = c.ack_timeout_ms ?? 500;
    this.maxSessions = c.max_sessions ?? 256;
    this.plan = hooks.plan;
    this.log = hooks.log ?? silent;
    this.tm = hooks.telemetry ?? defaultTelemetry;
    this.clock = hooks.clock ?? realClock;
    this.images = hooks.images ?? new FileImageStore(hooks.root);
    this.tm.gauge('lanboot_rpl_sessions', () => this.sessions.size);
  }

  /** Swap the boot plan (config reload). Sessions keep the answer they got at FIND time. */
  setPlan(plan: RplPlan): void {
    this.plan = plan;
  }

  /** Serve RPL on a link (one per interface). `iface` names it in logs. */
  attach(link: RplLink, iface = 'rpl'): void {
    if (this.links.has(link)) return;
    const fn = (f: Buffer) => this.receive(link, f, iface);
    this.links.set(link, { iface, fn });
    link.on('frame', fn);
  }

  detach(link: RplLink): void {
    const l = this.links.get(link);
    if (!l) return;
    this.links.delete(link);
    (link.off ?? link.removeListener)?.call(link, 'frame', l.fn);
    for (const [mac, s] of this.sessions) if (s.link === link) this.endSession(mac, s, 'link_closed');
  }

  /** Stop timers and forget sessions (the caller closes its links). */
  close(): void {
    this.closed = true;
    for (const link of [...this.links.keys()]) this.detach(link);
    this.sessions.clear();
    this.pumpTimer?.cancel();
    this.pumpTimer = undefined;
    this.houseTimer?.cancel();
    this.houseTimer = undefined;
  }

  /** Loads in progress or just finished (status page). */
  loadViews(): RplLoadInfo[] {
    const now = this.clock.now();
    const wall = Date.now();
    return [...this.sessions.values()].map((s) => ({
      mac: s.mac,
      iface: s.iface,
      file: s.imageLabel,
      bytes: s.bytesSent,
      size: s.imageBytes,
      started: Math.round(wall - (now - s.started)),
      frameSize: s.maxFrame,
      blockSize: s.blockSize,
      state: s.state,
      frames: s.frames,
      rerequests: s.rerequests,
    }));
  }

  /** Number of live sessions (status, tests). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  // ------------------------------------------------------------ input

  /** Feed one received Ethernet frame. Never throws on bad input. */
  receive(link: RplLink, frame: Buffer, iface = this.links.get(link)?.iface ?? 'rpl'): void {
    if (this.closed) return;
    let f: RplFrame;
    try {
      f = decode(frame);
    } catch (e) {
      const reason = e instanceof RplDecodeError ? e.reason : 'decode_error';
      this.drop(reason, { len: frame.length, err: (e as Error).message });
      return;
    }
    try {
      this.dispatch(link, iface, f);
    } catch (e) {
      // A bug must not take the service down; count it loudly.
      this.drop('internal_error', { err: (e as Error).message });
      this.log.error({ event: 'rpl.error', mac: f.src, err: (e as Error).stack }, 'rpl: internal error');
    }
  }

  private drop(reason: string, fields: Record<string, unknown> = {}): void {
    this.tm.count('lanboot_rpl_dropped_total', { reason });
    this.log.debug({ event: 'rpl.drop', reason, ...fields }, 'rpl: frame dropped');
  }

  private dispatch(link: RplLink, iface: string, f: RplFrame): void {
    const src = f.src;
    const own = normMac(link.mac);
    if (src === own) return; // our own frame looped back
    const p = f.pdu;
    this.tm.count('lanboot_rpl_received_total', { command: p.type });
    if (p.type === 'FIND') {
      if (f.dsap !== this.sap) return this.drop('wrong_sap', { mac: src, dsap: f.dsap });
      if (f.dst !== RPL_GROUP_MAC && f.dst !== 'ff:ff:ff:ff:ff:ff' && f.dst !== own) {
        return this.drop('not_for_us', { mac: src, dst: f.dst });
      }
      return this.onFind(link, iface, src, p);
    }
    if (p.type === 'SEND_FILE_REQUEST' || p.type === 'PROGRAM_ALERT') {
      // docs/rpl.md §2.2: requests may come on the IBM load SAP 0xF8 too.
      if (f.dsap !== this.sap && f.dsap !== SAP_LOAD) return this.drop('wrong_sap', { mac: src, dsap: f.dsap });
      if (f.dst !== own) return this.drop('not_for_us', { mac: src, dst: f.dst });
      if (p.type === 'PROGRAM_ALERT') return this.onAlert(src, p.body);
      return this.onRequest(link, iface, src, p);
    }
    // FOUND / FILE.DATA.RESPONSE from another server: not ours to answer.
    this.drop('not_a_request', { mac: src, command: p.type });
  }

  private onFind(link: RplLink, iface: string, mac: string, p: FindPdu): void {
    if (p.sourceMac !== undefined && p.sourceMac !== mac) {
      this.tm.count('lanboot_rpl_mac_mismatch_total');
      this.log.debug({ event: 'rpl.mac_mismatch', mac, pdu_mac: p.sourceMac }, 'rpl: FIND source MAC differs from the Ethernet source');
    }
    const now = this.clock.now();
    const answer = this.plan.rpl(mac);
    if (!answer) {
      this.tm.count('lanboot_rpl_unknown_clients_total');
      const last = this.unknownLogged.get(mac);
      if (last === undefined || now - last >= UNKNOWN_LOG_MS) {
        // Once per MAC per minute: the ROM repeats FIND every second or so.
        if (this.unknownLogged.size >= MAX_UNKNOWN_TRACKED) this.pruneUnknown(now, true);
        this.unknownLogged.set(mac, now);
        this.tm.bootEvent(
          this.log,
          { svc: 'rpl', event: 'rpl.unknown', mac, stage: 'rpl', iface },
          'rpl: FIND from an unknown client, not answered (add it to hosts: to boot it)',
        );
      }
      return;
    }
    this.tm.bootEvent(undefined, { svc: 'rpl', event: 'rpl.find', mac, stage: 'rpl', iface, client_max_frame: p.maxFrame });

    // The session copies the answer now: a config reload does not change a load in flight.
    const files: Buffer[] = [];
    try {
      for (const file of answer.image.files) files.push(this.images.read(file));
    } catch (e) {
      this.tm.count('lanboot_rpl_image_errors_total');
      this.log.error({ event: 'rpl.image_error', mac, err: (e as Error).message }, 'rpl: cannot read the boot image');
      return;
    }
    const clientMax = p.maxFrame;
    if (clientMax !== undefined && clientMax < 64) return this.drop('frame_too_small', { mac, max_frame: clientMax });
    // A link MTU below 1500 (the 802.3 payload) also caps the frame.
    const mtu = link.mtu && link.mtu > 0 ? link.mtu : MAX_FRAME;
    const maxFrame = Math.min(clientMax ?? answer.frameSize, answer.frameSize, MAX_FRAME, mtu);
    const memoryKiB = p.loaderInfo?.memoryKiB;
    const warnings = imageWarnings(answer.image, files.map((b) => b.length), memoryKiB);
    for (const w of warnings) {
      this.tm.count('lanboot_rpl_image_warnings_total');
      this.log.warn({ event: 'rpl.image_warning', mac, warning: w }, `rpl: ${w}`);
    }

    const old = this.sessions.get(mac);
    if (old && (old.state === 'loading' || old.state === 'await-ack')) this.finishLog(old, 'restarted');
    else if (old && old.state === 'sent') this.finishLog(old, 'ok'); // finished, the machine booted again
    this.sessions.delete(mac);
    this.makeRoom();
    const s: Session = {
      mac,
      link,
      iface,
      answer: structuredCloneAnswer(answer),
      files,
      imageLabel: answer.image.files.map((f) => f.path).join(','),
      imageBytes: files.reduce((a, b) => a + b.length, 0),
      clientMaxFrame: clientMax,
      memoryKiB,
      maxFrame,
      blockSize: blockSizeFor(answer.blockSize, maxFrame),
      blocks: [],
      state: 'found',
      next: 0,
      highest: -1,
      nextDue: now,
      pacingMs: Math.max(0, answer.pacingUs) / 1000,
      ackSeq: -1,
      ackDeadline: 0,
      ackResent: false,
      lastGoBack: { seq: -1, at: -Infinity },
      lastActivity: now,
      started: now,
      finished: 0,
      frames: 0,
      rerequests: 0,
      bytesSent: 0,
      logged: false,
    };
    this.sessions.set(mac, s);
    this.send(s, {
      dst: mac,
      src: normMac(link.mac),
      dsap: this.sap,
      ssap: this.sap,
      pdu: {
        type: 'FOUND',
        correlator: p.correlator, // docs/rpl.md §4.2: repeat it
        response: 0,
        destMac: mac,
        sourceMac: normMac(link.mac),
        maxFrame,
        connectClass: 1,
        sap: this.sap,
      },
    });
    this.tm.count('lanboot_rpl_sent_total', { command: 'FOUND' });
    this.tm.bootEvent(this.log, {
      svc: 'rpl',
      event: 'rpl.found',
      mac,
      stage: 'rpl',
      iface,
      host: answer.host.name,
      image: s.imageLabel,
      max_frame: maxFrame,
      client_max_frame: clientMax,
      memory_kib: memoryKiB,
    });
    this.ensureHousekeeping();
  }

  private onRequest(link: RplLink, iface: string, mac: string, p: SendFileRequestPdu): void {
    const s = this.sessions.get(mac);
    if (!s) return this.drop('no_session', { mac, seq: p.sequence });
    const now = this.clock.now();
    s.lastActivity = now;
    s.link = link; // answer on the interface the client uses now
    s.iface = iface;
    const seq = p.sequence;

    if (seq === 0 && (s.state === 'found' || s.state === 'done')) {
      // A fresh load; docs/rpl.md §8: the request may lower the frame size.
      if (p.maxFrame !== undefined && p.maxFrame < s.maxFrame) {
        if (p.maxFrame < 64) return this.drop('frame_too_small', { mac, max_frame: p.maxFrame });
        s.maxFrame = p.maxFrame;
      }
      s.blockSize = blockSizeFor(s.answer.blockSize, s.maxFrame);
      s.blocks = buildBlocks(s.files, s.answer.image.files.map((f) => f.load), s.blockSize);
      s.state = 'loading';
      s.next = 0;
      s.highest = -1;
      s.nextDue = now;
      s.started = now;
      s.frames = 0;
      s.rerequests = 0;
      s.bytesSent = 0;
      s.logged = false;
      s.ackResent = false;
      this.tm.bootEvent(this.log, {
        svc: 'rpl',
        event: 'rpl.start',
        mac,
        stage: 'rpl',
        iface,
        image: s.imageLabel,
        bytes: s.imageBytes,
        blocks: s.blocks.length,
        block_size: s.blockSize,
        max_frame: s.maxFrame,
      });
      this.schedulePump(now);
      return;
    }
    if (s.state === 'found') return this.drop('first_request_not_zero', { mac, seq });

    if (seq <= s.highest) {
      // Go-back-N. The client repeats its request while the resend is under way: ignore duplicates.
      const dedupeMs = 100 + 16 * s.pacingMs;
      if (seq === s.lastGoBack.seq && now - s.lastGoBack.at < dedupeMs && s.next > seq && s.state !== 'done') {
        this.tm.count('lanboot_rpl_duplicate_requests_total');
        return;
      }
      s.lastGoBack = { seq, at: now };
      s.rerequests++;
      this.tm.count('lanboot_rpl_rerequests_total');
      this.log.debug({ event: 'rpl.rerequest', mac, seq, highest: s.highest }, 'rpl: client asks to resend');
      s.next = seq;
      s.state = 'loading';
      s.nextDue = Math.max(s.nextDue, now - s.pacingMs);
      this.schedulePump(now);
      return;
    }
    if (seq === s.highest + 1) {
      // An acknowledgement (docs/rpl.md §6.2).
      if (seq >= s.blocks.length) {
        if (s.state === 'sent') {
          s.state = 'done';
          this.finishLog(s, 'ok');
        }
        return;
      }
      if (s.state === 'await-ack') {
        s.state = 'loading';
        s.ackResent = false;
        s.nextDue = Math.max(s.nextDue, now);
        this.schedulePump(now);
      }
      return;
    }
    this.drop('sequence_ahead', { mac, seq, highest: s.highest });
  }

  private onAlert(mac: string, body: Buffer): void {
    const s = this.sessions.get(mac);
    this.log.warn({ event: 'rpl.alert', mac, body: body.toString('hex') }, 'rpl: client sent PROGRAM.ALERT, load aborted');
    if (s) this.endSession(mac, s, 'alert');
  }

  // ------------------------------------------------------------ output

  private send(s: Session, f: RplFrame): void {
    try {
      s.link.send(encode(f));
    } catch (e) {
      this.tm.count('lanboot_rpl_send_errors_total');
      this.log.warn({ event: 'rpl.send_error', mac: s.mac, err: (e as Error).message }, 'rpl: send failed');
    }
  }

  private sendBlock(s: Session, now: number): void {
    const seq = s.next;
    const b = s.blocks[seq]!;
    const last = seq === s.blocks.length - 1;
    const ackEvery = s.answer.ackEvery;
    const ack = !last && ackEvery > 0 && (seq + 1) % ackEvery === 0;
    // docs/rpl.md §5: LOCATE with the exact address on every block; EOF|TRANSFER only on the last.
    let flags = FLAG_LOCATE;
    if (last) flags |= FLAG_END_OF_FILE | FLAG_TRANSFER;
    if (ack) flags |= FLAG_ACK_REQUEST;
    this.send(s, {
      dst: s.mac,
      src: normMac(s.link.mac),
      dsap: this.sap,
      ssap: this.sap,
      pdu: {
        type: 'FILE_DATA_RESPONSE',
        sequence: seq,
        locate: b.locate,
        transfer: s.answer.image.execute,
        flags,
        data: b.data,
      },
    });
    s.frames++;
    s.lastActivity = now;
    if (seq > s.highest) {
      s.highest = seq;
      s.bytesSent += b.data.length;
    }
    s.next = seq + 1;
    if (last) {
      s.state = 'sent';
      s.finished = now;
    } else if (ack) {
      s.state = 'await-ack';
      s.ackSeq = seq;
      s.ackDeadline = now + this.ackTimeoutMs;
    }
  }

  private schedulePump(now: number): void {
    this.wakeAt(now, now);
  }

  private wakeAt(at: number, now: number): void {
    if (this.closed) return;
    if (this.pumpTimer && at >= this.pumpAt) return;
    this.pumpTimer?.cancel();
    this.pumpAt = at;
    this.pumpTimer = this.clock.setTimer(at - now, () => this.pump());
  }

  /** Send every block that is due, round-robin over sessions, and sleep until the next one. */
  private pump(): void {
    this.pumpTimer = undefined;
    this.pumpAt = Infinity;
    const now = this.clock.now();
    let earliest = Infinity;
    for (const s of this.sessions.values()) {
      let burst = 0;
      while (s.state === 'loading' && s.nextDue <= now && burst < MAX_BURST) {
        this.sendBlock(s, now);
        burst++;
        // At most one frame of catch-up credit, so a late timer never causes a burst.
        s.nextDue = s.pacingMs > 0 ? Math.max(s.nextDue + s.pacingMs, now - s.pacingMs) : now;
      }
      if (s.state === 'loading') earliest = Math.min(earliest, s.nextDue);
    }
    if (earliest < Infinity) this.wakeAt(Math.max(earliest, now), now);
  }

  // ------------------------------------------------------------ housekeeping

  private ensureHousekeeping(): void {
    if (this.houseTimer || this.closed) return;
    this.houseTimer = this.clock.setTimer(HOUSEKEEPING_MS, () => this.housekeeping(), { unref: true });
  }

  private housekeeping(): void {
    this.houseTimer = undefined;
    const now = this.clock.now();
    for (const [mac, s] of this.sessions) {
      if (s.state === 'await-ack' && now >= s.ackDeadline) {
        if (!s.ackResent) {
          // NT: re-send once, then wait long (until the session times out).
          s.ackResent = true;
          s.next = s.ackSeq;
          s.state = 'loading';
          this.schedulePump(now);
        }
      }
      if (s.state === 'sent' && now - Math.max(s.finished, s.lastActivity) >= this.settleMs) {
        this.finishLog(s, 'ok');
        s.state = 'done';
      }
      if (now - s.lastActivity >= this.sessionTimeoutMs) {
        this.endSession(mac, s, 'timeout');
      }
    }
    this.pruneUnknown(now, false);
    if (this.sessions.size > 0) this.ensureHousekeeping();
  }

  private pruneUnknown(now: number, force: boolean): void {
    for (const [m, t] of this.unknownLogged) if (now - t >= UNKNOWN_LOG_MS) this.unknownLogged.delete(m);
    if (force && this.unknownLogged.size >= MAX_UNKNOWN_TRACKED) {
      this.unknownLogged.delete(this.unknownLogged.keys().next().value!);
    }
  }

  private makeRoom(): void {
    while (this.sessions.size >= this.maxSessions) {
      let oldest: [string, Session] | undefined;
      for (const e of this.sessions) if (!oldest || e[1].lastActivity < oldest[1].lastActivity) oldest = e;
      if (!oldest) return;
      this.endSession(oldest[0], oldest[1], 'evicted');
    }
  }

  private endSession(mac: string, s: Session, reason: string): void {
    this.sessions.delete(mac);
    if (s.state === 'loading' || s.state === 'await-ack') this.finishLog(s, reason);
    else if (s.state === 'sent' && !s.logged) this.finishLog(s, 'ok');
    else if (s.state === 'found') this.log.debug({ event: 'rpl.expire', mac, reason }, 'rpl: FOUND never followed by a request');
  }

  /** The one line per load (docs/rpl.md §10): mac, image, bytes, frames, re-requests, duration. */
  private finishLog(s: Session, result: string): void {
    if (s.logged) return;
    s.logged = true;
    const ok = result === 'ok';
    this.tm.count('lanboot_rpl_loads_total', { result });
    const end = ok ? s.finished : this.clock.now();
    this.tm.bootEvent(
      this.log,
      {
        svc: 'rpl',
        event: ok ? 'rpl.load' : 'rpl.abort',
        mac: s.mac,
        stage: 'rpl',
        iface: s.iface,
        host: s.answer.host.name,
        image: s.imageLabel,
        bytes: s.imageBytes,
        blocks: s.blocks.length,
        frames: s.frames,
        rerequests: s.rerequests,
        duration_ms: Math.round((end - s.started) * 1000) / 1000,
        max_frame: s.maxFrame,
        block_size: s.blockSize,
        pacing_us: s.answer.pacingUs,
        execute: '0x' + s.answer.image.execute.toString(16),
        ...(ok ? {} : { reason: result, at_block: s.next }),
      },
      ok ? 'rpl: load complete' : `rpl: load aborted (${result})`,
    );
  }
}

function structuredCloneAnswer(a: RplAnswer): RplAnswer {
  return {
    ...a,
    image: { execute: a.image.execute, files: a.image.files.map((f) => ({ ...f })) },
  };
}
