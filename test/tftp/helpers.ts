import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { TftpServer, type TftpHooks } from '../../src/tftp/server.js';
import { Telemetry } from '../../src/telemetry.js';
import type { TftpConfig } from '../../src/config/types.js';
import { decode, encode, type TftpPacket, type TftpOptions } from '../../src/codec/tftp.js';

export const sha256 = (b: Buffer | string) =>
  crypto.createHash('sha256').update(typeof b === 'string' ? fs.readFileSync(b) : b).digest('hex');

export function tmpdir(prefix = 'lb-tftp-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      // A killed or unstartable child has a non-numeric code: count it as 1.
      const raw: unknown = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof raw === 'number' ? raw : 1, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export interface Started {
  server: TftpServer;
  port: number;
  logs: Array<Record<string, unknown>>;
  telemetry: Telemetry;
  stop(): Promise<void>;
}

export function baseConfig(root: string): TftpConfig {
  return {
    address: '127.0.0.1',
    port: 0,
    root,
    blksize_max: 65464,
    windowsize_max: 64,
    timeout: 1,
    retries: 6,
    max_transfers: 1000,
    max_transfers_per_client: 32,
    timeout_max: 5,
    no_progress_timeout: 30,
    upload_overwrite: false,
    quirks: [],
  };
}

export async function startServer(
  cfg: Partial<TftpConfig> & { root: string },
  hooks?: Partial<TftpHooks>,
  level = 'debug',
): Promise<Started> {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const log = pino({ level, base: { svc: 'tftp' } }, sink);
  const telemetry = new Telemetry();
  const server = new TftpServer(
    { ...baseConfig(cfg.root), ...cfg },
    log,
    telemetry,
    { policy: () => ({ refuseOptions: [] }), ...hooks },
  );
  const a = await server.start();
  return { server, port: a.port, logs, telemetry, stop: () => server.stop() };
}

/** Poll until cond() or time out (bounded). */
export async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

/** A raw TFTP peer for protocol-level tests. */
export class RawPeer {
  readonly sock = dgram.createSocket('udp4');
  private queue: Array<{ p: TftpPacket | null; raw: Buffer; port: number }> = [];
  private waiters: Array<() => void> = [];
  async bind(): Promise<this> {
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', () => r()));
    this.sock.on('message', (raw, rinfo) => {
      let p: TftpPacket | null = null;
      try {
        p = decode(raw);
      } catch {
        p = null;
      }
      this.queue.push({ p, raw: Buffer.from(raw), port: rinfo.port });
      this.waiters.splice(0).forEach((w) => w());
    });
    return this;
  }
  get port(): number {
    return this.sock.address().port;
  }
  send(p: TftpPacket | Buffer, port: number): void {
    this.sock.send(Buffer.isBuffer(p) ? p : encode(p), port, '127.0.0.1');
  }
  rrq(port: number, filename: string, options: TftpOptions = [], mode = 'octet'): void {
    this.send({ op: 'RRQ', filename, mode, options }, port);
  }
  /** Next packet, or null after `ms`. */
  async recv(ms = 3000): Promise<{ p: TftpPacket | null; raw: Buffer; port: number } | null> {
    const end = Date.now() + ms;
    while (this.queue.length === 0) {
      const left = end - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.queue.shift()!;
  }
  drain(): number {
    const n = this.queue.length;
    this.queue = [];
    return n;
  }
  close(): void {
    this.sock.close();
  }
}
