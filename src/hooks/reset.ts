/**
 * The per-host "reset" hook (seed 000: reset a machine's copy-on-write disk
 * when it boots or on request). The host entry's `reset:` is an argv array;
 * templates ({name} {mac} {ip} {iqn} {target} ...) are expanded per argument
 * and the command runs with execFile: never a shell, so a host name can never
 * become shell syntax. Bounded in time and output; the result is logged.
 *
 * Triggered by the HTTP service (GET/POST /reset/<mac>, from the iPXE menu)
 * and by the CLI (`lanboot reset MAC`) through resetHost().
 */
import { execFile } from 'node:child_process';
import { expand, type TemplateValues } from '../config/template.js';
import type { Logger } from '../log.js';
import type { DerivedHost } from '../plan/types.js';
import { tryNormalizeMac } from '../net/address.js';
import type { Telemetry } from '../telemetry.js';

export const RESET_TIMEOUT_MS = 60_000;
/** Output kept per stream (for the log line and the HTTP answer). */
const OUTPUT_MAX = 16 * 1024;

export interface ResetResult {
  mac: string;
  name?: string;
  argv: string[];
  ok: boolean;
  /** Exit code, or null when killed by a signal / not started. */
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** Why it did not run or failed to start (ENOENT, no reset configured, busy...). */
  error?: string;
}

export interface ResetOptions {
  /** Who asked: for the log line. */
  via: 'http' | 'cli' | string;
  timeoutMs?: number;
  log?: Logger;
  telemetry?: Telemetry;
  /** Extra template values (e.g. {server}); the host's own values win. */
  values?: TemplateValues;
}

/** The host's reset argv with templates expanded, or undefined when none is configured. Throws on an unknown template. */
export function resetArgv(d: DerivedHost, extra: TemplateValues = {}): string[] | undefined {
  const argv = d.host.reset;
  if (!argv || argv.length === 0) return undefined;
  const v: TemplateValues = {
    ...extra,
    name: d.name,
    mac: d.mac,
    mac_hyphen: d.mac.replace(/:/g, '-'),
    mac_hex: d.mac.replace(/:/g, ''),
  };
  if (d.ip) v.ip = d.ip;
  if (d.iscsi) {
    v.iqn = d.iscsi.initiator;
    v.target = d.iscsi.target;
  }
  return argv.map((a) => expand(a, v));
}

const running = new Set<string>();

/** Run an expanded argv for a MAC. One run per MAC at a time; a second caller gets error 'busy'. */
export function runReset(mac: string, argv: string[], opts: ResetOptions & { name?: string }): Promise<ResetResult> {
  const started = Date.now();
  const base = { mac, name: opts.name, argv, stdout: '', stderr: '', signal: null, timedOut: false };
  if (argv.length === 0) return Promise.resolve(finish({ ...base, ok: false, code: null, durationMs: 0, error: 'empty argv' }, opts));
  if (running.has(mac)) {
    return Promise.resolve(finish({ ...base, ok: false, code: null, durationMs: 0, error: 'busy: a reset of this host is running' }, opts));
  }
  running.add(mac);
  const timeout = opts.timeoutMs ?? RESET_TIMEOUT_MS;
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, LANBOOT_MAC: mac, LANBOOT_RESET_VIA: String(opts.via) };
    if (opts.name) env.LANBOOT_NAME = opts.name;
    execFile(
      argv[0]!,
      argv.slice(1),
      { timeout, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024, windowsHide: true, env, shell: false },
      (err, stdout, stderr) => {
        running.delete(mac);
        const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string }) | null;
        const timedOut = Boolean(e?.killed && Date.now() - started >= timeout - 50);
        const code = e ? (typeof e.code === 'number' ? e.code : null) : 0;
        const startError = e && typeof e.code === 'string' ? `${e.code}: ${e.message.split('\n')[0]}` : undefined;
        resolve(
          finish(
            {
              ...base,
              ok: !e,
              code,
              signal: e?.signal ?? null,
              timedOut,
              durationMs: Date.now() - started,
              stdout: clip(String(stdout)),
              stderr: clip(String(stderr)),
              error: timedOut ? `timed out after ${timeout} ms` : startError,
            },
            opts,
          ),
        );
      },
    );
  });
}

/**
 * The CLI entry (`lanboot reset MAC`): look the host up through the plan,
 * expand its argv and run it. Resolves with the result; never throws for
 * "no such host" / "no reset configured" (ok: false with error set).
 */
export async function resetHost(
  plan: { derive(mac: string): DerivedHost | undefined },
  mac: string,
  opts: ResetOptions,
): Promise<ResetResult> {
  const m = normalize(mac);
  const empty = { mac: m, argv: [], ok: false, code: null, signal: null, timedOut: false, durationMs: 0, stdout: '', stderr: '' };
  const d = plan.derive(m);
  if (!d) return finish({ ...empty, error: `no host entry for ${m}` }, opts);
  let argv: string[] | undefined;
  try {
    argv = resetArgv(d, opts.values);
  } catch (e) {
    return finish({ ...empty, name: d.name, error: (e as Error).message }, opts);
  }
  if (!argv) return finish({ ...empty, name: d.name, error: `host ${d.name} has no reset: command` }, opts);
  return runReset(m, argv, { ...opts, name: d.name });
}

function normalize(mac: string): string {
  const m = mac.trim();
  return tryNormalizeMac(m) ?? m.toLowerCase();
}

function clip(s: string): string {
  return s.length > OUTPUT_MAX ? s.slice(0, OUTPUT_MAX) + '…' : s;
}

function finish(r: ResetResult, opts: ResetOptions): ResetResult {
  opts.telemetry?.count('lanboot_reset_total', { result: r.ok ? 'ok' : r.timedOut ? 'timeout' : r.code === null ? 'error' : 'failed' });
  const fields = {
    event: 'reset.done',
    mac: r.mac,
    name: r.name,
    via: opts.via,
    argv: r.argv,
    ok: r.ok,
    code: r.code,
    signal: r.signal ?? undefined,
    timedOut: r.timedOut || undefined,
    ms: r.durationMs,
    stdout: r.stdout.trim().slice(-2000) || undefined,
    stderr: r.stderr.trim().slice(-2000) || undefined,
    error: r.error,
  };
  if (opts.telemetry) {
    opts.telemetry.bootEvent(opts.log, { svc: opts.via === 'http' ? 'http' : 'core', stage: 'reset', ...fields }, r.ok ? 'reset hook ok' : 'reset hook failed');
  } else if (opts.log) {
    (r.ok ? opts.log.info.bind(opts.log) : opts.log.warn.bind(opts.log))(fields, r.ok ? 'reset hook ok' : 'reset hook failed');
  }
  return r;
}
