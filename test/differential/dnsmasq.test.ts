/**
 * Differential test: real dnsmasq and lanboot (running `lanboot import
 * dnsmasq` of the same config) answer the same raw DHCP requests from every
 * client class, each server in its own pair of network namespaces. The
 * answers are compared field by field (./compare.ts) and printed as a table;
 * the results go to $LANBOOT_DIFF_OUT (default: a file in the temp dir).
 *
 *   S_dnsmasq ──veth── C (one per link)      S_lanboot ──veth── C (one per link)
 *
 * A difference passes only when ACCEPTED lists it with the dnsmasq
 * misconfiguration lanboot fixes, and the import says so in a warning.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { NetnsScope, waitForOutput } from '../helpers/netns.js';
import { importDnsmasq, type ImportWarning } from '../../src/config/import/dnsmasq.js';
import { CLASSES, hostClasses, type ProbeClass } from './classes.js';
import { CORPUS, type Link } from './corpus.js';
import { diff, fields, show, type Fields } from './compare.js';
import type { SeenReply } from './probe.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CORPUS_DIR = join(ROOT, 'test/fixtures/dnsmasq/corpus');
const PROBE = join(ROOT, 'test/differential/probe.ts');
const SERVER = join(ROOT, 'test/dhcp/fixtures/server.ts');
const WAIT_MS = 1500;
const OUT = process.env.LANBOOT_DIFF_OUT ?? join(tmpdir(), 'lanboot-differential.md');

/**
 * Differences lanboot keeps on purpose: [config, class id (phase after '/'), field, why].
 * `why` must match one of the import's warnings for that config.
 */
const ACCEPTED: Array<[string, RegExp, string, RegExp]> = [
  // Forester's template writes "!tag:efihttp" where it means tag:!efihttp; dnsmasq takes the
  // token as the file name, so every iPXE client gets a file called "!tag:efihttp" (and the next
  // field, "tag:t...", as server name). lanboot reads the tag as meant: each enlisted host's iPXE
  // gets its own script, other iPXE clients nothing.
  ...['file', 'server_name', 'siaddr'].map(
    (f): [string, RegExp, string, RegExp] => ['forester-ipxe.conf', /(^|-)ipxe-(bios|uefi)\/discover$/, f, /reads "!tag:efihttp" as the boot file name/],
  ),
];

interface Row {
  config: string;
  probe: string;
  phase: string;
  dnsmasq: Fields;
  lanboot: Fields;
  /** Differences not accepted. */
  differs: string[];
  /** Differences lanboot keeps on purpose (ACCEPTED). */
  fixed: string[];
}
const rows: Row[] = [];
const importWarnings = new Map<string, ImportWarning[]>();

afterAll(() => {
  writeFileSync(OUT, report());
  process.stdout.write(`\n${summary()}\ndifferential results: ${OUT}\n`);
});

function hostsOf(text: string): Array<{ mac: string; ip?: string }> {
  const out: Array<{ mac: string; ip?: string }> = [];
  for (const line of text.split('\n')) {
    if (!/^dhcp-host=/.test(line)) continue;
    const mac = /([0-9a-f]{2}(:[0-9a-f]{2}){5})/i.exec(line)?.[1];
    const ip = /(?:^|,)(\d+\.\d+\.\d+\.\d+)(?:,|$)/.exec(line.slice(10))?.[1];
    if (mac) out.push({ mac: mac.toLowerCase(), ip });
  }
  return out;
}

/** A server namespace with one veth per link to its own client namespace. */
async function topology(scope: NetnsScope, links: Link[]): Promise<{ server: string; clients: string[] }> {
  const server = await scope.createNetns('lb-dfs-');
  const clients: string[] = [];
  for (const l of links) {
    const client = await scope.createNetns('lb-dfc-');
    const v = await scope.addVethPair(server, client, { addrB: l.client });
    await scope.exec(server, 'ip', ['link', 'set', v.a, 'down']);
    await scope.exec(server, 'ip', ['link', 'set', v.a, 'name', l.server]);
    await scope.exec(server, 'ip', ['addr', 'add', l.address, 'dev', l.server]);
    await scope.exec(server, 'ip', ['link', 'set', l.server, 'up']);
    await scope.exec(client, 'ip', ['route', 'add', 'default', 'dev', v.b]);
    clients.push(client);
  }
  return { server, clients };
}

async function probe(scope: NetnsScope, client: string, link: Link, classes: ProbeClass[]): Promise<Map<string, SeenReply[]>> {
  const spec = {
    probes: classes.map((c) => ({ id: c.id, mac: c.mac, pxe: c.pxe, options: Object.fromEntries(Object.entries(c.options).map(([k, v]) => [k, v.toString('hex')])) })),
    clientIp: link.client.split('/')[0],
    proxyServer: link.proxy ? link.address.split('/')[0] : undefined,
    waitMs: WAIT_MS,
  };
  const r = await scope.exec(client, 'node', ['--import', 'tsx', PROBE, JSON.stringify(spec)], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`probe failed: ${r.stderr}`);
  const out = new Map<string, SeenReply[]>();
  for (const line of r.stdout.split('\n').filter((l) => l.startsWith('{'))) {
    const j = JSON.parse(line) as { id: string; phase: string; replies: SeenReply[] };
    out.set(`${j.id}/${j.phase}`, j.replies);
  }
  return out;
}

async function runDnsmasq(scope: NetnsScope, ns: string, dir: string, conf: string): Promise<void> {
  const p = scope.spawn(ns, 'dnsmasq', [
    `--conf-file=${conf}`, '--no-daemon', '--port=0', `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`,
    `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--log-facility=-', '--user=root', '--group=root',
    // Harness only: no ICMP check before an offer (answers stay the same, 3 s faster) and
    // no exit over TFTP roots that exist on the project's servers, not here.
    '--no-ping', '--tftp-no-fail',
  ]);
  await waitForOutput(p, /started, version/, 10_000);
  await new Promise((r) => setTimeout(r, 300));
}

/** Starts lanboot; returns the interfaces it serves with packet sockets. */
async function runLanboot(scope: NetnsScope, ns: string, dir: string, yaml: string): Promise<string[]> {
  const cfg = join(dir, 'lanboot.yaml');
  writeFileSync(cfg, yaml);
  const p = scope.spawn(ns, 'node', ['--import', 'tsx', SERVER, cfg, '--no-sync'], { cwd: ROOT });
  const ready = JSON.parse(await waitForOutput(p, /"event":"ready"/, 30_000)) as { listening: Array<{ address: string; detail?: string }> };
  return ready.listening.filter((l) => l.detail?.startsWith('packet socket')).map((l) => l.address);
}

/** The imported YAML with the test's own state directory; services other than DHCP left out. Listening is the import's. */
function adapt(yaml: string, dir: string): { yaml: string; dhcp: boolean } {
  const doc = parseDocument(yaml);
  doc.set('state_dir', join(dir, 'state'));
  doc.delete('admin');
  doc.delete('tftp');
  doc.delete('http');
  return { yaml: doc.toString(), dhcp: doc.has('dhcp') };
}

function accepted(config: string, key: string, field: string): boolean {
  const w = importWarnings.get(config) ?? [];
  return ACCEPTED.some(([c, k, f, why]) => c === config && k.test(key) && f === field && w.some((x) => why.test(x.message)));
}

describe('dnsmasq corpus: real dnsmasq and the imported lanboot answer alike', () => {
  for (const entry of CORPUS) {
    it(entry.file, async () => {
      const scope = new NetnsScope();
      const dir = mkdtempSync(join(tmpdir(), 'lb-diff-'));
      try {
        const corpusFile = join(CORPUS_DIR, entry.file);
        const text = readFileSync(corpusFile, 'utf8');
        const wrapper = join(dir, 'dnsmasq.conf');
        const wrapperText = [...(entry.extra ?? []), `conf-file=${corpusFile}`, ''].join('\n');
        writeFileSync(wrapper, wrapperText);
        const io = { read: (f: string) => readFileSync(f, 'utf8'), list: (d: string) => readdirSync(d) };
        const imported = importDnsmasq(wrapperText, wrapper, io);
        importWarnings.set(entry.file, imported.warnings);
        const lb = adapt(imported.yaml, dir);

        const hosts = hostsOf(text);
        const classes = [...CLASSES, ...hosts.slice(0, 2).flatMap((h, i) => hostClasses(h.mac, i + 1))];
        const fixed = new Set(hosts.map((h) => h.ip).filter((x): x is string => !!x));

        const d = await topology(scope, entry.links);
        const l = await topology(scope, entry.links);
        await runDnsmasq(scope, d.server, dir, wrapper);
        if (lb.dhcp) {
          // The import's own listening rule finds every link, as dnsmasq does: no UDP-only fallback.
          const served = await runLanboot(scope, l.server, dir, lb.yaml);
          expect(served.sort()).toEqual(entry.links.map((x) => x.server).sort());
        }

        for (const [i, link] of entry.links.entries()) {
          const [dr, lr] = await Promise.all([probe(scope, d.clients[i]!, link, classes), probe(scope, l.clients[i]!, link, classes)]);
          const phases = link.proxy ? ['discover', '4011'] : ['discover'];
          for (const c of classes) {
            for (const phase of phases) {
              if (phase === '4011' && !c.pxe) continue;
              const key = `${c.id}/${phase}`;
              const a = fields(dr.get(key)?.[0], fixed, c.pxe);
              const b = fields(lr.get(key)?.[0], fixed, c.pxe);
              const probeName = entry.links.length > 1 ? `${link.server} ${c.label}` : c.label;
              const all = diff(a, b);
              const kept = all.filter((f) => accepted(entry.file, key, f));
              rows.push({ config: entry.file, probe: probeName, phase, dnsmasq: a, lanboot: b, differs: all.filter((f) => !kept.includes(f)), fixed: kept });
            }
          }
        }
      } finally {
        await scope.cleanup();
        rmSync(dir, { recursive: true, force: true });
      }
      const mine = rows.filter((r) => r.config === entry.file);
      const dnsmasqAnswers = mine.filter((r) => r.dnsmasq.reply !== '-').length;
      const lanbootAnswers = mine.filter((r) => r.lanboot.reply !== '-').length;
      // Never silent where dnsmasq answers someone.
      if (dnsmasqAnswers > 0) expect(lanbootAnswers, `${entry.file}: lanboot answered nobody`).toBeGreaterThan(0);
      expect(mine.filter((r) => r.differs.length).map((r) => `${r.probe} ${r.phase}: ${r.differs.join(',')}\n  dnsmasq: ${show(r.dnsmasq)}\n  lanboot: ${show(r.lanboot)}`)).toEqual([]);
    }, 120_000);
  }
});

/** Per config: probes answered alike / differing where lanboot fixes a dnsmasq misconfiguration / differing / lanboot silent where dnsmasq answers. */
function summary(): string {
  const lines = ['| config | probes | alike | fixed misconfiguration | differing | silent |', '|---|---|---|---|---|---|'];
  for (const entry of CORPUS) {
    const mine = rows.filter((r) => r.config === entry.file);
    if (!mine.length) continue;
    const silent = mine.filter((r) => r.dnsmasq.reply !== '-' && r.lanboot.reply === '-' && r.differs.length).length;
    const differing = mine.filter((r) => r.differs.length).length - silent;
    const fixed = mine.filter((r) => !r.differs.length && r.fixed.length).length;
    lines.push(`| ${entry.file} | ${mine.length} | ${mine.length - differing - silent - fixed} | ${fixed} | ${differing} | ${silent} |`);
  }
  return lines.join('\n');
}

function report(): string {
  const out = ['# dnsmasq vs lanboot, per client class', '', summary(), ''];
  for (const entry of CORPUS) {
    const mine = rows.filter((r) => r.config === entry.file);
    if (!mine.length) continue;
    out.push(`## ${entry.file}`, '', '| probe | phase | dnsmasq | lanboot | differs |', '|---|---|---|---|---|');
    for (const r of mine) {
      const d = [...r.differs, ...r.fixed.map((f) => `${f} (fixed)`)];
      out.push(`| ${r.probe} | ${r.phase} | ${show(r.dnsmasq)} | ${show(r.lanboot)} | ${d.join(', ')} |`);
    }
    const w = importWarnings.get(entry.file) ?? [];
    if (w.length) out.push('', 'Import warnings:', ...w.map((x) => `- ${x.file ? x.file.split('/').pop() + ':' : ''}${x.line}: ${x.message}`));
    out.push('');
  }
  return out.join('\n');
}
