/**
 * Event-loop stall probe for the DHCP bench: preload it into lanboot with
 *   npm run bench:dhcp -- --node-args "--import /abs/path/dist/bench/dhcp/lag.js"
 * and every stall over LB_LAG_MS (default 15) is appended to LB_LAG_FILE
 * (default /tmp/lanboot-lag-<pid>.txt) as "<ms> ms at <s since start> s, ran <ms>, runnable <ms>".
 * A 5 ms timer that fires late measures the stall; a long stall is one
 * callback (a burst of frames, a compaction, a GC) or the process not running:
 * "ran" is the main thread's CPU time over the same span, "runnable" its time
 * waiting for a CPU (/proc/thread-self/schedstat): a stall mostly "ran" is
 * our own work, mostly "runnable" the machine's other load.
 */
import { openSync, readFileSync, writeSync } from 'node:fs';

const threshold = Number(process.env.LB_LAG_MS ?? 15);
const fd = openSync(process.env.LB_LAG_FILE ?? `/tmp/lanboot-lag-${process.pid}.txt`, 'a');
const PERIOD = 5;
/** The main thread's [time on a CPU, time waiting for one] in ms. */
const sched = (): [number, number] => {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return [run! / 1e6, wait! / 1e6];
  } catch {
    return [NaN, NaN];
  }
};
let last = performance.now();
let lastSched = sched();
setInterval(() => {
  const now = performance.now();
  const s = sched();
  const lag = now - last - PERIOD;
  if (lag > threshold) {
    writeSync(fd, `${lag.toFixed(1)} ms at ${(now / 1000).toFixed(2)} s, ran ${(s[0] - lastSched[0]).toFixed(1)}, runnable ${(s[1] - lastSched[1]).toFixed(1)}\n`);
  }
  last = now;
  lastSched = s;
}, PERIOD).unref();
