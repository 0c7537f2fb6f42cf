/** Drive test/net/fixtures/peer.ts inside a namespace from a test. */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { NetnsScope } from '../helpers/netns.js';
import type { PacketSocketOptions } from '../../src/net/packet.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = fileURLToPath(new URL('./fixtures/peer.ts', import.meta.url));

export interface PeerFrame {
  frame: Buffer;
  pktType: number;
}

export class Peer {
  readonly frames: PeerFrame[] = [];
  mac = '';
  #waiters: Array<{ match: (o: any) => boolean; resolve: (o: any) => void }> = [];
  #stderr = '';

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let o: any;
      try {
        o = JSON.parse(line);
      } catch {
        return;
      }
      if (o.frame !== undefined) this.frames.push({ frame: Buffer.from(o.frame, 'hex'), pktType: o.pktType });
      for (const w of [...this.#waiters]) {
        if (w.match(o)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(o);
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => (this.#stderr += d.toString()));
  }

  static async start(
    net: NetnsScope,
    ns: string,
    opts: PacketSocketOptions & { echo?: boolean; quiet?: boolean },
  ): Promise<Peer> {
    const child = net.spawn(ns, process.execPath, ['--import', 'tsx', script, JSON.stringify(opts)], { cwd: root });
    const peer = new Peer(child);
    const ready = await peer.next((o) => o.ready === true, 20_000);
    peer.mac = ready.mac;
    return peer;
  }

  /** Next JSON line matching `match`. */
  next(match: (o: any) => boolean, timeoutMs = 10_000): Promise<any> {
    return new Promise((resolve, reject) => {
      const w = {
        match,
        resolve: (o: any) => {
          clearTimeout(t);
          this.child.off('exit', onExit);
          resolve(o);
        },
      };
      const fail = (msg: string): void => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        this.child.off('exit', onExit);
        reject(new Error(`${msg}; peer stderr: ${this.#stderr.trim()}`));
      };
      const t = setTimeout(() => fail('peer timeout'), timeoutMs);
      const onExit = (code: number | null): void => {
        clearTimeout(t);
        fail(`peer exited (${code})`);
      };
      this.child.once('exit', onExit);
      this.#waiters.push(w);
    });
  }

  async send(frame: Buffer, count = 1): Promise<void> {
    const ack = this.next((o) => o.sent !== undefined);
    this.child.stdin!.write(JSON.stringify({ send: frame.toString('hex'), count }) + '\n');
    await ack;
  }

  async stats(): Promise<{ stats: { packets: number; drops: number }; received: number }> {
    const r = this.next((o) => o.stats !== undefined);
    this.child.stdin!.write('{"stats":1}\n');
    return r;
  }

  /** Wait until the peer has received at least n frames. */
  async waitFrames(n: number, timeoutMs = 10_000): Promise<PeerFrame[]> {
    const end = Date.now() + timeoutMs;
    while (this.frames.length < n) {
      if (Date.now() > end) throw new Error(`peer got ${this.frames.length} of ${n} frames; stderr: ${this.#stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.frames;
  }
}
