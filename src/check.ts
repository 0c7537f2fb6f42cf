/**
 * `lanboot check`: the boot plan's answers for every host, as a person reads
 * them. Same code path as the services (BootPlan), so what it prints is what
 * a machine gets.
 */
import type { Config } from './config/types.js';
import { BootPlan, type DhcpAnswer } from './plan/index.js';
import { isWholeMac } from './net/address.js';
import { checkImage } from './rpl/images.js';
import { describeRule } from './dhcp/listen.js';

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

/** Stand-in when neither `server:` nor a request tells us our address. */
const INGRESS = '<ingress-address>';

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

export function formatCheck(config: Config, reports: HostReport[]): string {
  const out: string[] = [];
  const svc = [
    config.dhcp && `dhcp ${config.dhcp.mode} on ${describeRule({ interfaces: config.interfaces, except: config.except_interfaces })}, ${config.dhcp.address}:${config.dhcp.port}`,
    config.tftp && `tftp ${config.tftp.address}:${config.tftp.port} root ${config.tftp.root}`,
    config.http && `http ${config.http.address}:${config.http.port}`,
    config.rpl && `rpl on ${config.rpl.interfaces.join(',')}`,
    config.admin && `admin http://${config.admin.address}:${config.admin.port}/`,
  ].filter(Boolean);
  out.push(`${config.file}: OK`);
  out.push(`services: ${svc.join('; ') || 'none enabled'}`);
  for (const s of config.dhcp?.subnets ?? []) {
    out.push(`subnet ${s.subnet}${s.range ? ` pool ${s.range.start}-${s.range.end}` : ' (static only)'} lease ${s.lease}s`);
  }
  out.push(`${reports.length} host(s)`);
  for (const r of reports) {
    out.push('');
    out.push(`${r.mac}  ${r.name}${r.ip ? `  ${r.ip}` : ''}  boot: ${r.boot}`);
    const line = (label: string, a: DhcpAnswer) =>
      `  ${label.padEnd(10)} ${a.boot ? `${a.stage}: file "${a.bootfile}"${a.rootPath ? ` root-path ${a.rootPath}` : ''}` : `no boot answer (${a.reason})`}`;
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
