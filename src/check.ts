/**
 * `lanboot check`: what will not work (./check-problems.ts), then the boot
 * plan's answers as a person reads them: for each kind of client without a
 * host entry (BIOS, UEFI, ARM64, HTTP boot, iPXE), and for every host. Same
 * code path as the services (BootPlan), so what it prints is what a machine
 * gets.
 */
import { readFileSync } from 'node:fs';
import type { Config } from './config/types.js';
import { positionsIn } from './config/load.js';
import { BootPlan, type ClientFacts, type DhcpAnswer } from './plan/index.js';
import { isWholeMac } from './net/address.js';
import { checkImage } from './rpl/images.js';
import { describeRule, servedInterfaces } from './dhcp/listen.js';
import { findProblems, systemEnv, type CheckEnv, type CheckProblem } from './check-problems.js';

export type { CheckProblem, CheckEnv } from './check-problems.js';

export interface HostReport {
  mac: string;
  name: string;
  ip?: string;
  boot: string;
  pxeBios: DhcpAnswer;
  pxeUefi: DhcpAnswer;
  ipxe: DhcpAnswer;
  scriptUrl?: string;
  rootPath?: string;
  initiator?: string;
  target?: string;
  rpl?: { files: string[]; execute: string; frameSize: number; blockSize: number; pacingUs: number; warnings: string[] };
}

/** What one kind of client without a host entry gets. */
export interface ClientReport {
  client: string;
  /** Set for the answers in a proxyDHCP subnet beside leased ones. */
  subnet?: string;
  answer: DhcpAnswer;
}

export interface CheckResult {
  /** false when an error was found: something will not work (exit 1). */
  ok: boolean;
  problems: CheckProblem[];
  /** Where DHCP listens: the rule and the interfaces it finds on this machine now. */
  listening?: { rule: string; interfaces: string[] };
  clients: ClientReport[];
  hosts: HostReport[];
}

/** Stand-in when neither `server:` nor a request tells us our address. */
const INGRESS = '<ingress-address>';
/** A MAC from the documentation range (RFC 7042 §2.1.2): never a configured host. */
const UNKNOWN_MACS = ['00:00:5e:00:53:01', '00:00:5e:00:53:7e', '02:00:5e:00:53:01'];

const PXE = (arch: number) => `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003016`;
/** The client kinds lanboot tells apart, as their DHCP requests say it. */
const CLIENTS: Array<[string, Omit<ClientFacts, 'mac'>]> = [
  ['BIOS PXE', { arch: 0, vendorClass: PXE(0) }],
  ['UEFI x86-64', { arch: 7, vendorClass: PXE(7) }],
  ['UEFI IA32', { arch: 6, vendorClass: PXE(6) }],
  ['UEFI ARM64', { arch: 11, vendorClass: PXE(11) }],
  ['UEFI HTTP boot', { arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003016' }],
  ['iPXE (BIOS)', { arch: 0, vendorClass: PXE(0), userClasses: ['iPXE'], ipxeOptions: true }],
  ['iPXE (UEFI)', { arch: 7, vendorClass: PXE(7), userClasses: ['iPXE'], ipxeOptions: true }],
];

export function checkReport(config: Config, onHost?: (done: number, total: number) => void): HostReport[] {
  const plan = new BootPlan(config);
  const serverAddress = config.server ?? INGRESS;
  const pxe = 'PXEClient:Arch:00000:UNDI:002001';
  return config.hosts.map((h, i) => {
    onHost?.(i + 1, config.hosts.length);
    const facts = { mac: h.mac, serverAddress, vendorClass: pxe };
    const d = plan.derive(h.mac, { serverAddress });
    const r = plan.rpl(h.mac);
    return {
      mac: isWholeMac(h.prefix_bits) ? h.mac : `${h.mac}/${h.prefix_bits}`,
      name: h.name,
      ip: h.ip,
      boot: h.boot,
      pxeBios: plan.dhcp({ ...facts, arch: 0 }),
      pxeUefi: plan.dhcp({ ...facts, arch: 7 }),
      ipxe: plan.dhcp({ ...facts, arch: 0, userClasses: ['iPXE'], ipxeOptions: true }),
      scriptUrl: plan.scriptUrl(h.mac, serverAddress),
      rootPath: d?.iscsi?.rootPath,
      initiator: d?.iscsi?.initiator,
      target: d?.iscsi?.target,
      rpl: r && {
        files: r.image.files.map((f) => `${f.path}@0x${f.load.toString(16)}`),
        execute: `0x${r.image.execute.toString(16)}`,
        frameSize: r.frameSize,
        blockSize: r.blockSize,
        pacingUs: r.pacingUs,
        // Reads the image files: addresses must fit real-mode memory (docs/rpl.md §7).
        warnings: checkImage(r.image, config.tftp?.root ?? '/'),
      },
    };
  });
}

/** What each kind of client without a host entry gets (in proxy subnets beside leased ones too). */
export function clientReport(config: Config): ClientReport[] {
  if (!config.dhcp) return [];
  const plan = new BootPlan(config);
  const mac = UNKNOWN_MACS.find((m) => !plan.host(m)) ?? UNKNOWN_MACS[0]!;
  const serverAddress = config.server ?? INGRESS;
  const out: ClientReport[] = [];
  const proxySubnets = config.dhcp.mode === 'authoritative' ? config.dhcp.subnets.filter((s) => s.proxy) : [];
  for (const [client, f] of CLIENTS) out.push({ client, answer: plan.dhcp({ mac, serverAddress, ...f }) });
  for (const s of proxySubnets) {
    for (const [client, f] of CLIENTS) out.push({ client, subnet: s.subnet, answer: plan.dhcp({ mac, serverAddress, ...f, proxy: true }) });
  }
  return out;
}

/** Everything `lanboot check` reports. `text` is the config's own text (for line numbers); read from config.file when omitted. */
export function checkConfig(config: Config, opts: { env?: CheckEnv; text?: string; onHost?: (done: number, total: number) => void } = {}): CheckResult {
  const env = opts.env ?? systemEnv;
  let text = opts.text;
  if (text === undefined) {
    try {
      text = readFileSync(config.file, 'utf8');
    } catch {
      text = '';
    }
  }
  const problems = findProblems(config, env, positionsIn(text));
  const listening = config.dhcp
    ? {
        rule: describeRule({ interfaces: config.interfaces, except: config.except_interfaces }),
        interfaces: [...servedInterfaces({ interfaces: config.interfaces, except: config.except_interfaces, subnets: config.dhcp.subnets }, env.addressed()).keys()],
      }
    : undefined;
  return {
    ok: !problems.some((p) => p.severity === 'error'),
    problems,
    listening,
    clients: clientReport(config),
    hosts: checkReport(config, opts.onHost),
  };
}

/** One problem as `file:line: key: problem; fix`. */
export function formatProblem(file: string, p: CheckProblem): string {
  return `${file}:${p.line}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.key ? `${p.key}: ` : ''}${p.message}; ${p.fix}`;
}

function answerLine(a: DhcpAnswer): string {
  if (!a.boot) return `no boot answer (${a.reason})`;
  const what = a.bootfile !== undefined ? `file "${a.bootfile}"` : a.redirect ? 'sent to the boot server port (4011)' : a.pxe43?.items.length ? 'a PXE menu' : 'an address, no boot file';
  const menu = a.pxe43?.items.length ? ` menu: ${a.pxe43.items.map(([, t]) => `"${t.trim()}"`).join(', ')}` : '';
  return `${a.stage}: ${what}${a.rootPath ? ` root-path ${a.rootPath}` : ''}${menu}`;
}

export function formatCheck(config: Config, result: CheckResult): string {
  const out: string[] = [];
  const errors = result.problems.filter((p) => p.severity === 'error').length;
  const warnings = result.problems.length - errors;
  const counts = [errors && `${errors} problem(s) that will not work`, warnings && `${warnings} warning(s)`].filter(Boolean);
  out.push(`${config.file}: ${counts.length ? counts.join(', ') : 'OK'}`);
  for (const p of result.problems) out.push(formatProblem(config.file, p));
  const l = result.listening;
  const svc = [
    config.dhcp && l && `dhcp ${config.dhcp.mode} on ${l.rule}${config.interfaces === undefined ? ` (now: ${l.interfaces.join(', ') || 'none'})` : ''}, UDP ${config.dhcp.address}:${config.dhcp.port}`,
    config.tftp && `tftp ${config.tftp.address}:${config.tftp.port} root ${config.tftp.root}`,
    config.http && `http ${config.http.address}:${config.http.port}`,
    config.rpl && `rpl on ${config.rpl.interfaces.join(',')}`,
    config.admin && `admin http://${config.admin.address}:${config.admin.port}/`,
  ].filter(Boolean);
  out.push('');
  out.push(`services: ${svc.join('; ') || 'none enabled'}`);
  for (const s of config.dhcp?.subnets ?? []) {
    const kind = s.proxy || config.dhcp!.mode === 'proxy' ? ' proxyDHCP' : s.range ? ` pool ${s.range.start}-${s.range.end}` : ' (static only)';
    out.push(`subnet ${s.subnet}${kind}${s.interface ? ` on ${s.interface}` : ''}${s.proxy || config.dhcp!.mode === 'proxy' ? '' : ` lease ${s.lease}s`}`);
  }
  const label = (s: string) => `  ${s.padEnd(16)} `;
  if (result.clients.length) {
    out.push('');
    out.push(`clients without a host entry${config.boot.unknown_clients ? '' : ' (boot.unknown_clients: false)'}:`);
    let subnet: string | undefined;
    for (const c of result.clients) {
      if (c.subnet !== subnet) {
        subnet = c.subnet;
        out.push(` in proxyDHCP subnet ${subnet}:`);
      }
      out.push(`${label(c.client)}${answerLine(c.answer)}`);
    }
  }
  out.push('');
  out.push(`${result.hosts.length} host(s)`);
  for (const r of result.hosts) {
    out.push('');
    out.push(`${r.mac}  ${r.name}${r.ip ? `  ${r.ip}` : ''}  boot: ${r.boot}`);
    const line = (name: string, a: DhcpAnswer) => `  ${name.padEnd(10)} ${answerLine(a)}`;
    out.push(line('PXE BIOS', r.pxeBios));
    out.push(line('PXE UEFI', r.pxeUefi));
    out.push(line('iPXE', r.ipxe));
    if (r.scriptUrl) out.push(`  ${'script'.padEnd(10)} ${r.scriptUrl}`);
    if (r.rootPath) {
      out.push(`  ${'iSCSI'.padEnd(10)} ${r.rootPath}`);
      out.push(`  ${'initiator'.padEnd(10)} ${r.initiator}`);
    }
    if (r.rpl) {
      out.push(`  ${'RPL'.padEnd(10)} ${r.rpl.files.join(' ')} execute ${r.rpl.execute} frame ${r.rpl.frameSize} block ${r.rpl.blockSize} pacing ${r.rpl.pacingUs}us`);
      for (const w of r.rpl.warnings) out.push(`  ${'warning'.padEnd(10)} ${w}`);
    }
  }
  return out.join('\n');
}
