/**
 * The V8 flags `lanboot start` runs with. Under load V8's young generation grows
 * to two 16 MB semi-spaces and stays there, and the old generation fills with
 * promoted garbage up to ~4x the live heap before a full collection. These
 * flags only take effect when V8 sets up its heap (v8.setFlagsFromString later
 * changes nothing), so they must be on node's command line: install-service writes
 * them there, and a `lanboot start` run without them re-executes node with them
 * (same PID, so systemd, procd and shells see one process).
 */
import { loadNative } from './native.js';

/**
 * 4 MB semi-spaces (not 16) and an old generation that grows by 30 % of the
 * live heap between full collections (not up to 4x): peak RSS at 4,000-6,000
 * DORA/s 143-155 -> 92-96 MB in bench/dhcp, CPU per DORA the same there
 * (+15 % in micro.js, whose heap is larger). 2 MB semi-spaces cost more CPU
 * and saved no more.
 */
export const START_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=30'];

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

