#!/usr/bin/env node
/**
 * The `lanboot` command. Exit codes: 0 ok, 1 runtime failure, 2 bad config
 * or usage (as commander and most daemons do).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import type { Config } from './config/types.js';
import type { ImportResult } from './config/import/types.js';

// Modules are imported by the command that needs them: `lanboot start` then
// holds no config validator (zod, YAML parser), check or import code in its heap.

const EXIT_CONFIG = 2;

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
  process.stderr.write(`${message}\n${file}: config refused, nothing started\n`);
  process.exit(EXIT_CONFIG);
}

async function load(file: string): Promise<Config> {
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
  .showHelpAfterError();

program
  .command('start')
  .description('run every service the config enables, in one process')
  .requiredOption('-c, --config <file>', 'config file')
  .action(async (o: { config: string }) => {
    const { loadConfigInWorker, ConfigRefused } = await import('./config-worker.js');
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
  .description('validate the config and print the resolved boot plan for each host')
  .requiredOption('-c, --config <file>', 'config file')
  .option('--json', 'print JSON instead of text')
  .action(async (o: { config: string; json?: boolean }) => {
    const config = await load(o.config);
    const { checkReport, formatCheck } = await import('./check.js');
    const { Progress } = await import('./admin/tables.js');
    const progress = new Progress('checking hosts', config.hosts.length); // draws only on a TTY
    const report = checkReport(config, (done) => progress.update(done));
    progress.finish();
    process.stdout.write((o.json ? JSON.stringify(report, null, 2) : formatCheck(config, report)) + '\n');
  });

program
  .command('import')
  .description('convert a dnsmasq.conf or rpld.conf into lanboot YAML')
  .argument('<kind>', 'dnsmasq | rpld')
  .argument('<file>', 'file to convert')
  .option('-o, --output <file>', 'write the YAML here instead of stdout')
  .action(async (kind: string, file: string, o: { output?: string }) => {
    const text = readInput(file);
    let result: ImportResult;
    if (kind === 'rpld') result = (await import('./config/import/rpld.js')).importRpld(text, file);
    else if (kind === 'dnsmasq') {
      const include = { read: (f: string) => readFileSync(f, 'utf8'), list: (d: string) => readdirSync(d) };
      result = (await import('./config/import/dnsmasq.js')).importDnsmasq(text, file === '-' ? 'stdin' : file, include);
    }
    else {
      process.stderr.write(`unknown import kind "${kind}"; write: lanboot import dnsmasq FILE, or lanboot import rpld FILE\n`);
      process.exit(EXIT_CONFIG);
    }
    for (const w of result.warnings) process.stderr.write(`${w.file ?? file}:${w.line}: warning: ${w.message}\n`);
    if (o.output) writeFileSync(o.output, result.yaml);
    else process.stdout.write(result.yaml);
    process.stderr.write(`${result.warnings.length} line(s) not carried over\n`);
  });

program
  .command('trace')
  .description("show one machine's boot in order (DHCP, TFTP, HTTP, RPL) from a log file or stdin")
  .argument('<mac>', 'client MAC')
  .option('-l, --log <file>', 'lanboot JSON log (default: stdin)')
  .action(async (mac: string, o: { log?: string }) => {
    const { traceLines } = await import('./trace.js');
    const text = readInput(o.log ?? 0);
    const lines = traceLines(text, mac);
    process.stdout.write(lines.join('\n') + (lines.length ? '\n' : ''));
    if (!lines.length) {
      process.stderr.write(`no events for ${mac}\n`);
      process.exitCode = 1;
    }
  });

program
  .command('leases')
  .description('print the running server\'s leases (asks it over the admin API)')
  .requiredOption('-c, --config <file>', 'config file')
  .option('--json', 'print JSON')
  .action(async (o: { config: string; json?: boolean }) => {
    const { leasesCommand } = await import('./admin/commands.js');
    process.exitCode = await leasesCommand(await load(o.config), { json: o.json });
  });

program
  .command('hosts')
  .description('print the configured hosts with their current lease')
  .requiredOption('-c, --config <file>', 'config file')
  .option('--json', 'print JSON')
  .action(async (o: { config: string; json?: boolean }) => {
    const { hostsCommand } = await import('./admin/commands.js');
    process.exitCode = await hostsCommand(await load(o.config), { json: o.json });
  });

program
  .command('reload')
  .description('validate the config, then tell the running server to reload it (SIGHUP)')
  .requiredOption('-c, --config <file>', 'config file')
  .action(async (o: { config: string }) => {
    const config = await load(o.config); // refuse here, with positions, before signalling anything
    const pidFile = `${config.state_dir}/lanboot.pid`;
    let pid: number;
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim());
      process.kill(pid, 'SIGHUP');
    } catch (e) {
      process.stderr.write(`no running lanboot found via ${pidFile}: ${(e as Error).message}\n`);
      process.exit(1);
    }
    process.stderr.write(`config valid; sent SIGHUP to lanboot (pid ${pid})\n`);
  });

program
  .command('reset')
  .description("run a host's configured reset command (e.g. reset its copy-on-write disk)")
  .argument('<mac>', 'host MAC')
  .requiredOption('-c, --config <file>', 'config file')
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
    process.exitCode = r.ok ? 0 : 1;
  });

program
  .command('install-service')
  .description('install (or print) the systemd unit or OpenWrt procd script')
  .option('--print', 'print the files instead of installing them')
  .option('--prefix <dir>', 'install below this root directory')
  .option('--init <kind>', 'systemd | procd (default: detected)')
  .option('-c, --config <file>', 'config file the service will use')
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

program.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 1 ? EXIT_CONFIG : e.exitCode);
  process.stderr.write(`lanboot: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
}
