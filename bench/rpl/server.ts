/**
 * The production RPL responder (compiled) for the benchmark, run inside a namespace:
 *   node dist/bench/rpl/server.js '{"ifnames":[..],"root":..,"hosts":{mac: answer-without-host}}'
 * Prints {"ready":true,...} then one JSON line per boot event; exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { RplResponder } from '../../src/rpl/responder.js';
import { serveRpl } from '../../src/rpl/links.js';
import { Telemetry, type BootEvent } from '../../src/telemetry.js';
import type { RplAnswer } from '../../src/plan/types.js';

interface Args {
  ifnames: string[];
  root: string;
  hosts: Record<string, Omit<RplAnswer, 'host'>>;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const out = (o: unknown): boolean => process.stdout.write(JSON.stringify(o) + '\n');
const tm = new Telemetry();
tm.on('event', (e: BootEvent) => out(e));
const answers = new Map<string, RplAnswer>();
for (const [mac, a] of Object.entries(args.hosts)) {
  answers.set(mac, { ...a, host: { mac, prefix_bits: 48, name: 'b' + mac.replace(/:/g, ''), boot: 'script', line: 0 } });
}
const responder = new RplResponder({ session_timeout: 30 }, { plan: { rpl: (m) => answers.get(m) }, root: args.root, telemetry: tm });
const links = serveRpl(responder, args.ifnames);
createInterface({ input: process.stdin }).on('close', () => {
  responder.close();
  for (const l of links) l.close();
  process.exit(0);
});
out({ ready: true, macs: Object.fromEntries(links.map((l) => [l.ifname, l.mac])) });
