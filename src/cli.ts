#!/usr/bin/env node
/**
 * The `lanboot` command. Exit codes: 0 ok, 1 failure (a reset, a trace with
 * no events, a check that found what will not work), 2 bad config
 * or usage (as commander and most daemons do), 3 no running server answered
 * (leases, reload; like systemctl's "inactive").
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import type { Config } from './config/types.js';
import { printable, printableJson } from './admin/tables.js';
import type { ImportResult } from './config/import/types.js';

// Modules are imported by the command that needs them: `lanboot start` then
// holds no config validator (zod, YAML parser), check or import code in its heap.

/** A command that ran and failed: a reset, a trace with no events, a check that found what will not work. */
const EXIT_FAILED = 1;
const EXIT_CONFIG = 2;
const EXIT_NOT_RUNNING = 3;
/** Where the installed service reads its config (install-service), so commands on the router need no -c. */
const DEFAULT_CONFIG = process.env.LANBOOT_CONFIG || '/etc/lanboot/lanboot.yaml';
// commander appends the default in force ($LANBOOT_CONFIG's value when set).
const CONFIG_HELP = 'config file ($LANBOOT_CONFIG overrides the default)';

/** Works from src/ (tsx) and dist/src/ alike: the first package.json above this file. */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const f = join(dir, 'package.json');
    if (existsSync(f)) return (JSON.parse(readFileSync(f, 'utf8')) as { version: string }).version;
    const up = dirname(dir);
    if (up === dir) return '0.0.0';
    dir = up;
  }
}

function refuse(file: string, message: string): never {
  // Messages quote the file's own keys and values: escape what a terminal would act on.
  process.stderr.write(`${printable(message, { lines: true })}\n${printable(file)}: config refused, nothing started\n`);
  process.exit(EXIT_CONFIG);
}

function mustExist(file: string): void {
  if (existsSync(file)) return;
  process.stderr.write(`${printable(file)}: no such config file; pass -c FILE (or set LANBOOT_CONFIG)\n`);
  process.exit(EXIT_CONFIG);
}

async function load(file: string): Promise<Config> {
  mustExist(file);
  const { ConfigError, loadConfig } = await import('./config/load.js');
  try {
    return loadConfig(file);
  } catch (e) {
    if (e instanceof ConfigError) refuse(file, e.message);
    throw e;
  }
}

/** Read a user-named file; a missing or unreadable one is a usage error, not a stack trace. */
function readInput(file: string | 0): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    process.stderr.write(`cannot read ${file === 0 ? 'stdin' : file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    process.exit(EXIT_CONFIG);
  }
}

const program = new Command();
program
  .name('lanboot')
  .description('Network-boot services: DHCP (PXE, iPXE, proxyDHCP), TFTP, HTTP boot scripts, RPL, iSCSI handoff')
  .version(packageVersion())
  .showHelpAfterError()
  // Before the subcommands: commander copies this setting into each one as it is
  // created, so `lanboot check --bogus` exits 2 (usage) like an unknown command.
  .exitOverride();

program
  .command('start')
  .description('run every service the config enables, in one process')
  .option('-c, --config <file>', CONFIG_HELP, DEFAULT_CONFIG)
  .action(async (o: { config: string }) => {
    mustExist(o.config);
    const { reexecWithNodeFlags } = await import('./node-flags.js');
    const notApplied = reexecWithNodeFlags();
    if (notApplied) process.stderr.write(`lanboot: ${notApplied}\n`);
    const { loadConfigInWorker, ConfigRefused } = await import('./config/load-worker.js');
    let config: Config;
    try {
      config = await loadConfigInWorker(o.config);
    } catch (e) {
      if (e instanceof ConfigRefused) refuse(o.config, e.message);
      throw e;
    }
    const { runApp } = await import('./app.js');
    await runApp(config);
  });

program
  .command('check')
  .description('validate the config, say what will not work (exit 1) and print the boot plan per client kind and host')
  .option('-c, --config <file>', CONFIG_HELP, DEFAULT_CONFIG)
  .option('--json', 'print JSON instead of text')
  .action(async (o: { config: string; json?: boolean }) => {
    const config = await load(o.config);
    const { checkConfig, formatCheck } = await import('./check.js');
    const { Progress } = await import('./admin/tables.js');
    const progress = new Progress('checking hosts', config.hosts.length); // draws only on a TTY
    const result = checkConfig(config, { onHost: (done) => progress.update(done) });
    progress.finish();
    process.stdout.write((o.json ? printableJson(result) : printable(formatCheck(config, result), { lines: true })) + '\n');
    if (!result.ok) process.exitCode = EXIT_FAILED;
  });

program
  .command('import')
  .description('convert a dnsmasq.conf or rpld.conf into lanboot YAML')
  .argument('<kind>', 'dnsmasq | rpld')
  .argument('<file>', 'file to convert (- for stdin)')
  .option('-o, --output <file>', 'write the YAML here instead of stdout')
  .action(async (kind: string, file: string, o: { output?: string }) => {
    const text = readInput(file === '-' ? 0 : file);
    if (file === '-') file = 'stdin';
    let result: ImportResult;
    if (kind === 'rpld') result = (await import('./config/import/rpld.js')).importRpld(text, file);
    else if (kind === 'dnsmasq') {
      const include = { read: (f: string) => readFileSync(f, 'utf8'), list: (d: string) => readdirSync(d) };
      result = (await import('./config/import/dnsmasq.js')).importDnsmasq(text, file, include);
    }
    else {
      process.stderr.write(`unknown import kind "${kind}"; write: lanboot import dnsmasq FILE, or lanboot import rpld FILE\n`);
      process.exit(EXIT_CONFIG);
    }
    // Line 0: about no line of the file (rpld's -i lives on its command line).
    for (const w of result.warnings) process.stderr.write(printable(`${w.file ?? file}${w.line ? `:${w.line}` : ''}: warning: ${w.message}`) + '\n');
    if (o.output) writeFileSync(o.output, result.yaml);
    else process.stdout.write(result.yaml);
    // Not "lines not carried over": some warnings are about lines carried over with a change, one (rpld's -i) about no line.
    process.stderr.write(`${result.warnings.length} warning(s)\n`);
  });

program
  .command('trace')
  .description("show one machine's boot in order (DHCP, TFTP, HTTP, RPL) from a log file or stdin")
  .argument('<mac>', 'client MAC')
  .option('-l, --log <file>', 'lanboot log, JSON or text lines (default: stdin)')
  .action(async (mac: string, o: { log?: string }) => {
    const { traceLines } = await import('./trace.js');
    const text = readInput(o.log ?? 0);
    const lines = traceLines(text, mac);
    process.stdout.write(lines.join('\n') + (lines.length ? '\n' : ''));
    if (!lines.length) {
      process.stderr.write(`no events for ${printable(mac)}\n`);
      process.exitCode = EXIT_FAILED;
    }
  });

program
  .command('leases')
  .description('print the running server\'s leases (asks it over the admin API)')
  .option('-c, --config <file>', CONFIG_HELP, DEFAULT_CONFIG)
  .option('--json', 'print JSON')
  .action(async (o: { config: string; json?: boolean }) => {
    const { leasesCommand } = await import('./admin/commands.js');
    process.exitCode = await leasesCommand(await load(o.config), { json: o.json });
  });

program
  .command('hosts')
  .description('print the configured hosts with their current lease')
  .option('-c, --config <file>', CONFIG_HELP, DEFAULT_CONFIG)
  .option('--json', 'print JSON')
  .action(async (o: { config: string; json?: boolean }) => {
    const { hostsCommand } = await import('./admin/commands.js');
    process.exitCode = await hostsCommand(await load(o.config), { json: o.json });
  });

program
  .command('reload')
  .description('validate the config, then tell the running server to reload it (SIGHUP)')
  .option('-c, --config <file>', CONFIG_HELP, DEFAULT_CONFIG)
  .action(async (o: { config: string }) => {
    const config = await load(o.config); // refuse here, with positions, before signalling anything
    const pidFile = `${config.state_dir}/lanboot.pid`;
    let pid: number;
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim());
      process.kill(pid, 'SIGHUP');
    } catch (e) {
      process.stderr.write(`no running lanboot found via ${pidFile}: ${(e as Error).message}\n`);
      process.exit(EXIT_NOT_RUNNING);
    }
    process.stderr.write(`config valid; sent SIGHUP to lanboot (pid ${pid})\n`);
  });

program
  .command('reset')
  .description("run a host's configured reset command (e.g. reset its copy-on-write disk)")
  .argument('<mac>', 'host MAC')
  .option('-c, --config <file>', CONFIG_HELP, DEFAULT_CONFIG)
  .action(async (mac: string, o: { config: string }) => {
    const config = await load(o.config);
    const { BootPlan } = await import('./plan/index.js');
    const { resetHost } = await import('./hooks/reset.js');
    const { logger } = await import('./log.js');
    const plan = new BootPlan(config);
    const r = await resetHost({ derive: (m) => plan.derive(m, { serverAddress: config.server }) }, mac, {
      via: 'cli',
      log: logger('core'),
      values: config.server ? { server: config.server } : {},
    });
    if (r.stdout) process.stdout.write(r.stdout);
    if (r.stderr) process.stderr.write(r.stderr);
    process.stderr.write(r.ok ? `reset of ${r.name ?? r.mac} done in ${r.durationMs} ms\n` : `reset failed: ${r.error ?? `exit ${r.code}`}\n`);
    process.exitCode = r.ok ? 0 : EXIT_FAILED;
  });

program
  .command('install-service')
  .description('install (or print) the systemd unit or OpenWrt procd script')
  .option('--print', 'print the files instead of installing them')
  .option('--prefix <dir>', 'install below this root directory')
  .option('--init <kind>', 'systemd | procd (default: detected)')
  .option('-c, --config <file>', 'config file the service will use (default: /etc/lanboot/lanboot.yaml)')
  .action(async (o: { print?: boolean; prefix?: string; init?: string; config?: string }) => {
    const { installServiceCommand } = await import('./admin/commands.js');
    process.exitCode = await installServiceCommand(o);
  });

program
  .command('schema')
  .description('print the config reference (every key, its default and meaning)')
  .option('--json', 'JSON Schema instead of Markdown')
  .action(async (o: { json?: boolean }) => {
    const { schemaMarkdown, schemaJson } = await import('./config/docs.js');
    process.stdout.write(o.json ? JSON.stringify(schemaJson(), null, 2) + '\n' : schemaMarkdown());
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 1 ? EXIT_CONFIG : e.exitCode);
  process.stderr.write(`lanboot: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
}
