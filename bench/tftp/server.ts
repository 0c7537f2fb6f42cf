/**
 * lanboot's TFTP server as its own process for the benchmark (compiled to
 * dist/bench/tftp/server.js). argv[2] = JSON TftpConfig overrides. Logs at
 * info (one line per transfer, as in production) to LOGFILE or /dev/null.
 */
import { pino } from 'pino';
import { TftpServer } from '../../src/tftp/server.js';
import { Telemetry } from '../../src/telemetry.js';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const log = pino(
  { level: process.env.LVL ?? 'info', base: { svc: 'tftp' } },
  pino.destination({ dest: process.env.LOGFILE ?? '/dev/null', sync: false }),
);
const server = new TftpServer(
  {
    address: '127.0.0.1',
    port: 69,
    root: '/srv/tftp',
    blksize_max: 65464,
    windowsize_max: 64,
    timeout: 1,
    retries: 6,
    max_transfers: 1000,
    // Every storm client is curl on 127.0.0.1: one address, hundreds of transfers.
    max_transfers_per_client: 1000,
    timeout_max: 5,
    no_progress_timeout: 30,
    upload_overwrite: false,
    quirks: [],
    ...cfg,
  },
  log,
  new Telemetry(),
  { policy: () => ({ refuseOptions: [] }) },
);
server.start().then(
  (a) => process.stderr.write(`LISTEN ${a.address} ${a.port}\n`),
  (e) => {
    process.stderr.write(`FAILED ${(e as Error).message}\n`);
    process.exit(1);
  },
);
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
if (process.env.MEMSTAT) {
  setInterval(() => {
    const m = process.memoryUsage();
    const f = (x: number) => (x / 1048576).toFixed(1);
    process.stderr.write(`MEM rss ${f(m.rss)} heapTotal ${f(m.heapTotal)} heapUsed ${f(m.heapUsed)} external ${f(m.external)} ab ${f(m.arrayBuffers)}\n`);
  }, 200).unref();
}
