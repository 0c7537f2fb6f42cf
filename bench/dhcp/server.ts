/**
 * lanboot's DHCP service alone, for the benchmark (compiled: dist/bench/dhcp/server.js).
 *   node dist/bench/dhcp/server.js CONFIG [--no-sync]
 * Prints {"event":"ready"} when listening and the journal's commit/fsync
 * counts on SIGTERM.
 */
import { loadConfig } from '../../src/config/load.js';
import { BootPlan } from '../../src/plan/index.js';
import { startDhcp } from '../../src/dhcp/run.js';
import { Telemetry } from '../../src/telemetry.js';
import { silent } from '../../src/log.js';

const config = loadConfig(process.argv[2]!);
const plan = new BootPlan(config);
const telemetry = new Telemetry();
const dhcp = await startDhcp(config, { plan: () => plan, log: silent, telemetry, noSync: process.argv.includes('--no-sync') });
process.stdout.write(JSON.stringify({ event: 'ready' }) + '\n');
process.on('SIGTERM', async () => {
  const j = dhcp.leases?.journal;
  await dhcp.stop();
  const counters = Object.fromEntries([...telemetry.counters.values()].map((c) => [c.name + JSON.stringify(c.labels), c.value]));
  process.stdout.write(JSON.stringify({ event: 'stopped', commits: j?.commits, fsyncs: j?.syncs, counters }) + '\n');
  process.exit(0);
});
