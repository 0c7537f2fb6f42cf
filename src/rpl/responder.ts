/**
 * RPL responder (docs/rpl.md §6): answers FIND from known clients with
 * FOUND, then streams the boot image as FILE.DATA.RESPONSE frames, going back
 * when the client asks for an earlier block. One session per client MAC.
 *
 * RPL has no authentication, so a FIND + SEND.FILE.REQUEST with a spoofed
 * source makes us send a whole image to that MAC. Every block we send is owed
 * to a request: SEND.FILE.REQUEST(s) opens a window, the blocks from s up to
 * the next ACK-REQUEST (ack_every) or, with ack_every 0, to the end of the
 * image. A load whose window is out and that gets no request for the next one
 * is stopped. Loads at once, loads per MAC and blocks per load are capped, so
 * spoofed requests buy a bounded amount of traffic.
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
import { limitLogs } from '../log-limit.js';
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
  /** Most sessions kept at once (the oldest one not loading is dropped). Default 256. */
  max_sessions?: number;
  /** Loads sending at once; beyond it FIND is not answered (the ROM repeats it). Default 8. */
  max_loads?: number;
  /** Loads one MAC may start per minute (a SEND.FILE.REQUEST(0) that starts sending). Default 4. */
  loads_per_mac?: number;
  /** ms an unacknowledged window (ACK-REQUEST sent, then re-sent once) waits for a request before the load is stopped. Default 5000. */
  request_timeout_ms?: number;
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
/** States in which a load holds one of max_loads. */
const ACTIVE: ReadonlySet<State> = new Set(['loading', 'await-ack', 'sent']);

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
  /** Blocks the client's requests prove it holds: SEND.FILE.REQUEST(s) means it has 0..s-1. */
  acked: number;
  /** Go-back requests in a row that acknowledged nothing new. */
  repeats: number;
  /** When the ACK-REQUEST block was last sent (the window is out). */
  windowSentAt: number;
  /** A FIND arrived during this load: the answer a SEND.FILE.REQUEST(0) starts from (the machine rebooted). */
  successor?: Session;
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
/** loads_per_mac counts loads started in this window. */
const LOAD_RATE_WINDOW_MS = 60_000;
/**
 * With ack_every 0 a go-back re-sends the rest of the image, so each request
 * can cost an image. A ROM's requests never go backwards and rarely repeat
 * (it asks for the first block it lacks), so: a request for less than the
 * client already acknowledged is dropped (0 restarts the load, counted by
 * loads_per_mac), MAX_REPEATS requests in a row that acknowledge nothing new
 * end the load, and a load sends at most MAX_PASSES times its blocks (the
 * bench's silence-only ROM without pacing needs about 10).
 */
/**
 * A MAC refused as busy waits in line while it keeps asking (a ROM repeats
 * FIND about every second and SEND.FILE.REQUEST more often); a place in line
 * lapses after this long without a frame. A freed load slot goes to the head
 * of the line, so spoofed MACs that ask once cannot take every slot that
 * frees while a real ROM keeps asking.
 */
const WAIT_LAPSE_MS = 2500;
const MAX_REPEATS = 4;
const MAX_PASSES = 16;
const PASS_SLACK = 16;

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
  private readonly maxLoads: number;
  private readonly loadsPerMac: number;
  private readonly requestTimeoutMs: number;
  /** Start times of recent loads per MAC (loads_per_mac). */
  private readonly recentStarts = new Map<string, number[]>();
  private readonly refusedLogged = new Map<string, number>();
  /** MACs refused as busy, in the order they were first refused -> when last heard (WAIT_LAPSE_MS). */
  private readonly waiting = new Map<string, number>();
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
    this.maxLoads = c.max_loads ?? 8;
    this.loadsPerMac = c.loads_per_mac ?? 4;
    this.requestTimeoutMs = c.request_timeout_ms ?? 5000;
    this.plan = hooks.plan;
    this.log = limitLogs(hooks.log ?? silent); // frames are cheap to send: no warning once per frame
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
    if (this.waiting.has(mac)) this.waiting.set(mac, now); // still asking: keeps its place in line
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
    const midLoad = old !== undefined && (old.state === 'loading' || old.state === 'await-ack');
    if (!midLoad) {
      const refused = this.refusal(mac, now);
      if (refused) return this.refuse(mac, iface, refused, now);
    }
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
      windowSentAt: 0,
      acked: 0,
      repeats: 0,
      lastGoBack: { seq: -1, at: -Infinity },
      lastActivity: now,
      started: now,
      finished: 0,
      frames: 0,
      rerequests: 0,
      bytesSent: 0,
      logged: false,
    };
    if (midLoad) {
      // The machine rebooted, or someone sends FIND with its MAC: answer, but
      // keep the load until a SEND.FILE.REQUEST(0) starts the new one.
      old.successor = s;
    } else {
      if (old?.state === 'sent') this.finishLog(old, 'complete'); // the ROM is back at FIND: sent, not confirmed
      this.sessions.delete(mac);
      if (!this.makeRoom()) return this.refuse(mac, iface, 'busy', now);
      this.sessions.set(mac, s);
    }
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
    let s = this.sessions.get(mac);
    if (!s) return this.drop('no_session', { mac, seq: p.sequence });
    const now = this.clock.now();
    const seq = p.sequence;
    if (seq === 0 && s.successor) {
      // docs/rpl.md §6.1: SEND.FILE.REQUEST(0) after a FIND during a load starts the new load.
      const next = s.successor;
      s.successor = undefined;
      this.finishLog(s, 'restarted');
      this.sessions.set(mac, next);
      s = next;
    }
    s.lastActivity = now;
    s.link = link; // answer on the interface the client uses now
    s.iface = iface;

    if (seq === 0 && s.acked > 0 && s.state !== 'done') {
      // The client had blocks and asks for 0: it started over (docs/rpl.md §6.2), a new load.
      this.finishLog(s, 'restarted');
      s.state = 'done';
    }
    if (seq === 0 && (s.state === 'found' || s.state === 'done')) {
      // A fresh load; docs/rpl.md §8: the request may lower the frame size.
      if (p.maxFrame !== undefined && p.maxFrame < s.maxFrame) {
        if (p.maxFrame < 64) return this.drop('frame_too_small', { mac, max_frame: p.maxFrame });
        s.maxFrame = p.maxFrame;
      }
      const refused = this.refusal(mac, now);
      if (refused) return this.refuse(mac, iface, refused, now);
      this.noteStart(mac, now);
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
      s.acked = 0;
      s.repeats = 0;
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
    if (seq < s.acked) return this.drop('sequence_behind', { mac, seq, acked: s.acked });

    if (seq <= s.highest) {
      // Go-back-N. The client repeats its request while the resend is under way: ignore duplicates.
      const dedupeMs = 100 + 16 * s.pacingMs;
      if (seq === s.lastGoBack.seq && now - s.lastGoBack.at < dedupeMs && s.next > seq && s.state !== 'done') {
        this.tm.count('lanboot_rpl_duplicate_requests_total');
        return;
      }
      if (seq > s.acked) s.repeats = 0;
      else if (++s.repeats > MAX_REPEATS) {
        this.drop('resend_budget', { mac, seq, repeats: s.repeats });
        this.finishLog(s, 'resend_budget');
        return this.endSession(mac, s, 'resend_budget');
      }
      s.acked = seq;
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
      s.acked = Math.min(seq, s.blocks.length);
      s.repeats = 0;
      if (seq >= s.blocks.length) {
        // The block after the last: the client has them all (the one confirmation RPL offers).
        if (s.state === 'sent') {
          s.state = 'done';
          this.finishLog(s, 'complete');
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
    this.tm.count('lanboot_rpl_alerts_total');
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
      s.windowSentAt = now;
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
        if (s.frames >= MAX_PASSES * s.blocks.length + PASS_SLACK) {
          this.drop('resend_budget', { mac: s.mac, frames: s.frames });
          this.finishLog(s, 'resend_budget');
          this.endSession(s.mac, s, 'resend_budget');
          break;
        }
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
      if (s.state === 'await-ack' && s.ackResent && now - s.windowSentAt >= this.requestTimeoutMs) {
        // The window is out and was re-sent once; no request for the next one.
        this.endSession(mac, s, 'no_request');
        continue;
      }
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
        this.finishLog(s, 'complete');
        s.state = 'done';
      }
      if (now - s.lastActivity >= this.sessionTimeoutMs) {
        this.endSession(mac, s, 'timeout');
      }
    }
    this.pruneUnknown(now, false);
    for (const [m, starts] of this.recentStarts) if (now - starts[starts.length - 1]! >= LOAD_RATE_WINDOW_MS) this.recentStarts.delete(m);
    for (const [m, t] of this.refusedLogged) if (now - t >= UNKNOWN_LOG_MS) this.refusedLogged.delete(m);
    for (const [m, t] of this.waiting) if (now - t >= WAIT_LAPSE_MS) this.waiting.delete(m);
    if (this.sessions.size > 0 || this.recentStarts.size > 0 || this.waiting.size > 0) this.ensureHousekeeping();
  }

  /** Why a load for `mac` may not start now (max_loads, loads_per_mac), if it may not. */
  private refusal(mac: string, now: number): 'busy' | 'mac_rate' | undefined {
    const starts = this.recentStarts.get(mac);
    if (starts) {
      while (starts.length && now - starts[0]! >= LOAD_RATE_WINDOW_MS) starts.shift();
      if (starts.length >= this.loadsPerMac) return 'mac_rate';
    }
    let active = 0;
    for (const [m, s] of this.sessions) if (m !== mac && ACTIVE.has(s.state)) active++;
    if (active >= this.maxLoads) return this.wait(mac, now);
    // A slot is free: it goes to whoever has waited longest and still asks.
    for (const [m, heard] of this.waiting) {
      if (now - heard < WAIT_LAPSE_MS) break;
      this.waiting.delete(m);
    }
    const head = this.waiting.keys().next().value;
    if (head !== undefined && head !== mac) return this.wait(mac, now);
    this.waiting.delete(mac);
    return undefined;
  }

  /** Take (or keep) a place in line; 'busy'. */
  private wait(mac: string, now: number): 'busy' {
    if (this.waiting.has(mac) || this.waiting.size < MAX_UNKNOWN_TRACKED) this.waiting.set(mac, now);
    return 'busy';
  }

  private noteStart(mac: string, now: number): void {
    const starts = this.recentStarts.get(mac) ?? [];
    this.recentStarts.delete(mac); // re-insert: the map stays in order of last start
    starts.push(now);
    this.recentStarts.set(mac, starts);
    if (this.recentStarts.size > MAX_UNKNOWN_TRACKED) this.recentStarts.delete(this.recentStarts.keys().next().value!);
  }

  /** Not answered: the ROM repeats FIND / SEND.FILE.REQUEST and gets served once a load ends. */
  private refuse(mac: string, iface: string, reason: 'busy' | 'mac_rate', now: number): void {
    this.tm.count('lanboot_rpl_refused_total', { reason });
    const last = this.refusedLogged.get(mac);
    if (last !== undefined && now - last < UNKNOWN_LOG_MS) return;
    if (this.refusedLogged.size >= MAX_UNKNOWN_TRACKED) this.refusedLogged.delete(this.refusedLogged.keys().next().value!);
    this.refusedLogged.set(mac, now);
    const why = reason === 'busy' ? `${this.maxLoads} loads are running (rpl.max_loads)` : `it started ${this.loadsPerMac} loads in the last minute (rpl.loads_per_mac)`;
    this.log.warn({ event: 'rpl.refused', mac, iface, reason }, `rpl: not answering this client now: ${why}`);
    this.ensureHousekeeping();
  }

  private pruneUnknown(now: number, force: boolean): void {
    for (const [m, t] of this.unknownLogged) if (now - t >= UNKNOWN_LOG_MS) this.unknownLogged.delete(m);
    if (force && this.unknownLogged.size >= MAX_UNKNOWN_TRACKED) {
      this.unknownLogged.delete(this.unknownLogged.keys().next().value!);
    }
  }

  /** Evict the oldest session that is not loading; false when every one is (a FIND flood never ends a load). */
  private makeRoom(): boolean {
    while (this.sessions.size >= this.maxSessions) {
      let oldest: [string, Session] | undefined;
      for (const e of this.sessions) if (!ACTIVE.has(e[1].state) && (!oldest || e[1].lastActivity < oldest[1].lastActivity)) oldest = e;
      if (!oldest) return false;
      this.endSession(oldest[0], oldest[1], 'evicted');
    }
    return true;
  }

  private endSession(mac: string, s: Session, reason: string): void {
    this.sessions.delete(mac);
    if (s.state === 'loading' || s.state === 'await-ack') this.finishLog(s, reason);
    else if (s.state === 'sent' && !s.logged) this.finishLog(s, 'complete');
    else if (s.state === 'found') this.log.debug({ event: 'rpl.expire', mac, reason }, 'rpl: FOUND never followed by a request');
  }

  /**
   * The one line per load (docs/rpl.md §10): mac, image, bytes, frames, re-requests, duration.
   * `complete` = every block was sent. Only a request for the block after the
   * last (SEND.FILE.REQUEST(N), docs/rpl.md §6.2) confirms the client holds the image: a
   * ROM that jumps to it sends nothing more (the final block is not
   * acknowledged, docs/rpl.md §6.2), and that silence looks exactly like a spoofed MAC nobody
   * owns. So rpl.load says `confirmed` and `acked_blocks` (what the client's
   * requests acknowledged); the counter's result is confirmed or unconfirmed.
   */
  private finishLog(s: Session, result: string): void {
    if (s.logged) return;
    s.logged = true;
    const ok = result === 'complete';
    const confirmed = ok && s.acked >= s.blocks.length;
    this.tm.count('lanboot_rpl_loads_total', { result: ok ? (confirmed ? 'confirmed' : 'unconfirmed') : result });
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
        acked_blocks: s.acked,
        ...(ok ? { confirmed } : { reason: result, at_block: s.next }),
      },
      ok
        ? confirmed
          ? 'rpl: load complete, the client acknowledged the last block'
          : 'rpl: load sent, not confirmed (no request followed the last block)'
        : `rpl: load aborted (${result})`,
    );
  }
}

function structuredCloneAnswer(a: RplAnswer): RplAnswer {
  return {
    ...a,
    image: { execute: a.image.execute, files: a.image.files.map((f) => ({ ...f })) },
  };
}
