/**
 * Event-loop stall probe for the DHCP bench: preload it into lanboot with
 *   npm run bench:dhcp -- --node-args "--import /abs/path/dist/bench/dhcp/lag.js"
 * and every stall over LB_LAG_MS (default 15) is appended to LB_LAG_FILE
 * (default /tmp/lanboot-lag-<pid>.txt) as "<ms> ms at <s since start> s".
 * A 5 ms timer that fires late measures the stall; a long stall is one
 * callback (a burst of frames, a compaction, a GC) or the process not running.
 */
import { openSync, writeSync } from 'node:fs';

const threshold = Number(process.env.LB_LAG_MS ?? 15);
const fd = openSync(process.env.LB_LAG_FILE ?? `/tmp/lanboot-lag-${process.pid}.txt`, 'a');
const PERIOD = 5;
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  const lag = now - last - PERIOD;
  if (lag > threshold) writeSync(fd, `${lag.toFixed(1)} ms at ${(now / 1000).toFixed(2)} s\n`);
  last = now;
}, PERIOD).unref();
