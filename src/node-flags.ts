/**
 * The V8 flags `lanboot start` runs with. Under load V8's young generation grows
 * to two 16 MB semi-spaces and stays there: the largest part of peak RSS. The
 * cap only takes effect when V8 sets up its heap (v8.setFlagsFromString later
 * changes nothing), so it must be on node's command line: install-service writes
 * it there, and a `lanboot start` run without it re-executes node with it
 * (same PID, so systemd, procd and shells see one process).
 */
import { loadNative } from './native.js';

/** Measured in bench/dhcp (see the commit that set them): RSS against CPU per DORA. */
export const START_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

const flagName = (f: string) => f.split('=')[0]!;

/** The flags of START_NODE_FLAGS that neither node's command line nor NODE_OPTIONS set. */
export function missingNodeFlags(execArgv = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map(flagName);
  return START_NODE_FLAGS.filter((f) => !given.includes(flagName(f)));
}

/**
 * Re-executes this node process with the missing flags (never returns then);
 * returns a reason when it cannot, and the caller starts without them.
 */
export function reexecWithNodeFlags(): string | undefined {
  const missing = missingNodeFlags();
  if (!missing.length) return undefined;
  try {
    const caps = loadNative<{ execv(path: string, argv: string[]): never }>('lanboot_caps');
    caps.execv(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)]);
  } catch (e) {
    return `starting without ${missing.join(' ')}: ${(e as Error).message}`;
  }
  return undefined;
}
