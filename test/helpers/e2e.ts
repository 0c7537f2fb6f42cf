/**
 * Real-firmware end-to-end plumbing: two network namespaces (server, VM)
 * joined by a veth pair; in the VM namespace a bridge joins that veth with a
 * tap device QEMU attaches to. The server side runs lanboot, tgtd (userspace
 * iSCSI target) and a router-advertisement-only responder.
 *
 * Everything is registered with a NetnsScope, so cleanup() (also on failure
 * and on process exit) kills QEMU, tgtd, lanboot and deletes the namespaces.
 */
import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetnsScope } from './netns.js';

export const SERVER_IP = '10.77.0.1';
const ESC = /\x1b\[[0-9;?]*[A-Za-z]/g;

export interface E2eNet {
  srvNs: string;
  vmNs: string;
  /** Server-side veth (lanboot's DHCP interface). */
  srvIf: string;
  tap: string;
  /** The bridge in the VM namespace: "the LAN" (another router's DHCP can sit on it). */
  bridge: string;
}

async function must(scope: NetnsScope, ns: string | null, cmd: string, args: string[]): Promise<string> {
  const r = await scope.exec(ns, cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} (ns ${ns ?? 'root'}): exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

export async function makeNet(scope: NetnsScope): Promise<E2eNet> {
  const srvNs = await scope.createNetns('lb-e2s-');
  const vmNs = await scope.createNetns('lb-e2v-');
  // The VM side carries no IP of its own: it is a bridge for the guest.
  await must(scope, vmNs, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  // IPv6 on the server veth only for the RA responder (see startRa); ULA, never routed.
  const v = await scope.addVethPair(srvNs, vmNs, { addrA: `${SERVER_IP}/24`, ipv6: true });
  await must(scope, srvNs, 'ip', ['-6', 'addr', 'add', 'fd77:e2e::1/64', 'dev', v.a, 'nodad']);
  const tag = randomBytes(3).toString('hex');
  const br = `lb-${tag}br`;
  const tap = `lb-${tag}tp`;
  await must(scope, vmNs, 'ip', ['link', 'add', br, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  await must(scope, vmNs, 'ip', ['link', 'set', v.b, 'master', br]);
  await must(scope, vmNs, 'ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  await must(scope, vmNs, 'ip', ['link', 'set', tap, 'master', br]);
  await must(scope, vmNs, 'ip', ['link', 'set', tap, 'up']);
  await must(scope, vmNs, 'ip', ['link', 'set', br, 'up']);
  return { srvNs, vmNs, srvIf: v.a, tap, bridge: br };
}

/**
 * Router advertisements only (dnsmasq with DNS, DHCPv4 and TFTP off). Debian's
 * 2019 iPXE runs IPv6 autoconfiguration next to DHCPv4 and, with nobody
 * answering its router solicitation, waits ~13 s per "Configuring" step; an
 * RA ends that step at once. This is no part of what is tested.
 */
export function startRa(scope: NetnsScope, ns: string, iface: string): ChildProcess {
  return scope.spawn(ns, 'dnsmasq', [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--port=0',
    `--interface=${iface}`,
    '--bind-interfaces',
    '--enable-ra',
    '--dhcp-range=fd77:e2e::,ra-only',
    '--pid-file=',
    '--leasefile-ro',
    '--log-facility=-',
  ]);
}

/** tgtd in `ns` with its own control port, so it never meets a system tgtd. */
export class Tgt {
  readonly controlPort = 10000 + Math.floor(Math.random() * 20000); // tgtd refuses large values
  private proc?: ChildProcess;
  private tids = 0;
  output = '';

  constructor(
    private readonly scope: NetnsScope,
    private readonly ns: string,
  ) {}

  async start(portal: string): Promise<void> {
    this.proc = this.scope.spawn(this.ns, 'tgtd', ['-f', '-C', String(this.controlPort), '--iscsi', `portal=${portal}:3260`]);
    this.proc.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.proc.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    // Ready when the management socket answers.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await this.scope.exec(this.ns, 'tgtadm', ['-C', String(this.controlPort), '--mode', 'system', '--op', 'show']);
      if (r.code === 0) return;
      if (this.proc.exitCode !== null || Date.now() > deadline) throw new Error(`tgtd did not start: ${this.output}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** A target with `image` as LUN 1 (tgt keeps LUN 0 for its controller), open to any initiator. */
  async addTarget(iqn: string, image: string): Promise<number> {
    const tid = ++this.tids;
    const c = ['-C', String(this.controlPort), '--lld', 'iscsi'];
    await must(this.scope, this.ns, 'tgtadm', [...c, '--mode', 'target', '--op', 'new', '--tid', String(tid), '--targetname', iqn]);
    await must(this.scope, this.ns, 'tgtadm', [...c, '--mode', 'logicalunit', '--op', 'new', '--tid', String(tid), '--lun', '1', '--backing-store', image]);
    await must(this.scope, this.ns, 'tgtadm', [...c, '--mode', 'target', '--op', 'bind', '--tid', String(tid), '--initiator-address', 'ALL']);
    return tid;
  }

  /** Remove the control socket files tgtd leaves in /var/run/tgtd. */
  cleanupFiles(): void {
    for (const f of [`/var/run/tgtd/socket.${this.controlPort}`, `/var/run/tgtd/socket.${this.controlPort}.lock`]) rmSync(f, { force: true });
  }
}

export interface VmOptions {
  mac: string;
  tap: string;
  firmware: 'bios' | 'uefi';
  /** Directory for per-VM files (OVMF vars copy, sercon port file). */
  dir: string;
}

/**
 * QEMU (TCG) with its serial port on stdio. BIOS: e1000 whose option ROM is
 * Debian's iPXE, and SeaBIOS's serial console (etc/sercon-port) so iPXE's
 * text is on the serial line too and keys can be typed into it. UEFI: OVMF
 * with a virtio-net NIC without option ROM, so OVMF's own PXE client boots.
 */
export class SerialVm {
  private proc?: ChildProcess;
  private raw = '';
  private waiters: Array<() => void> = [];

  constructor(
    private readonly scope: NetnsScope,
    private readonly ns: string,
    private readonly o: VmOptions,
  ) {}

  /** Serial output with terminal escapes removed. */
  get output(): string {
    return this.raw.replace(ESC, '');
  }

  start(): void {
    const common = ['-nodefaults', '-accel', 'tcg', '-m', '256', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot'];
    const net = ['-netdev', `tap,id=n0,ifname=${this.o.tap},script=no,downscript=no`];
    let args: string[];
    if (this.o.firmware === 'bios') {
      const sercon = join(this.o.dir, 'sercon-port');
      writeFileSync(sercon, Buffer.from([0xf8, 0x03])); // 0x3F8, little-endian: SeaBIOS reads an integer
      args = [...common, '-machine', 'pc', ...net, '-device', `e1000,netdev=n0,mac=${this.o.mac},bootindex=1`, '-fw_cfg', `name=etc/sercon-port,file=${sercon}`];
    } else {
      const vars = join(this.o.dir, 'OVMF_VARS.fd');
      copyFileSync('/usr/share/OVMF/OVMF_VARS.fd', vars);
      args = [
        ...common,
        '-machine', 'q35',
        '-drive', 'if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd',
        '-drive', `if=pflash,format=raw,file=${vars}`,
        ...net,
        '-device', `virtio-net-pci,netdev=n0,mac=${this.o.mac},romfile=,bootindex=1`,
      ];
    }
    this.proc = this.scope.spawn(this.ns, 'qemu-system-x86_64', args);
    const on = (d: Buffer) => {
      this.raw += d.toString('latin1');
      for (const w of this.waiters.splice(0)) w();
    };
    this.proc.stdout?.on('data', on);
    this.proc.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.proc.once('exit', () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }
  stderr = '';

  /** Resolve with the serial text once `re` matches it (searching from `from`), or reject with the tail. */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const check = () => {
        const text = this.output.slice(from);
        if (re.test(text)) return resolve(text);
        const exited = this.proc?.exitCode !== null && this.proc?.exitCode !== undefined;
        if (exited || Date.now() > deadline) {
          clearTimeout(timer);
          return reject(new Error(`${exited ? 'QEMU exited' : 'timeout'} waiting for ${re} on the VM serial port; last output:\n${text.slice(-2500)}\n${this.stderr.slice(-500)}`));
        }
        this.waiters.push(check);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        check();
      }, timeoutMs + 10);
      check();
    });
  }

  /**
   * Type on the serial console (SeaBIOS sercon turns it into keystrokes). It
   * polls a one-byte UART under TCG, so characters go one at a time, slowly.
   */
  async type(text: string, delayMs = 40): Promise<void> {
    for (const ch of text) {
      this.proc?.stdin?.write(ch === '\n' ? '\r' : ch);
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }

  /**
   * Run one iPXE shell command: type it, check the echo came back intact (a
   * dropped key would run something else; under load the polled UART can
   * lose one), erase and retype if not, press Enter; with `prompt`, wait for
   * the next "iPXE>" prompt.
   */
  async shell(cmd: string, timeoutMs: number, prompt = true): Promise<void> {
    const want = cmd.replace(/\s+/g, '');
    for (let attempt = 1; ; attempt++) {
      const from = this.output.length;
      await this.type(cmd, 40 * attempt);
      const seen = await this.waitFor(new RegExp(escapeRe(cmd.slice(-12)) + '$'), 3000, from).catch(() => this.output.slice(from));
      if (seen.replace(/\s+/g, '').includes(want)) break;
      if (attempt === 3) throw new Error(`iPXE shell kept losing keys: typed "${cmd}", saw "${seen}"`);
      await this.type('\b'.repeat(cmd.length + 4), 20); // iPXE's line editor: backspace
    }
    const after = this.output.length;
    await this.type('\n');
    if (prompt) await this.waitFor(/iPXE> ?$/, timeoutMs, after);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }
}

/** `lanboot start --config FILE` (compiled) in the server namespace, its JSON log lines collected. */
export class LanbootProc {
  private proc?: ChildProcess;
  lines: Array<Record<string, unknown>> = [];
  text = '';
  private waiters: Array<() => void> = [];

  constructor(
    private readonly scope: NetnsScope,
    private readonly ns: string,
    private readonly cli: string,
  ) {}

  start(configFile: string): void {
    this.proc = this.scope.spawn(this.ns, process.execPath, [this.cli, 'start', '--config', configFile], {
      env: { ...process.env, LANBOOT_LOG_LEVEL: 'debug' },
    });
    let buf = '';
    const on = (d: Buffer) => {
      this.text += d.toString();
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const l of parts) {
        try {
          this.lines.push(JSON.parse(l) as Record<string, unknown>);
        } catch {
          /* not JSON: kept in text */
        }
      }
      for (const w of this.waiters.splice(0)) w();
    };
    this.proc.stdout?.on('data', on);
    this.proc.stderr?.on('data', on);
    this.proc.once('exit', () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get exited(): boolean {
    return this.proc?.exitCode !== null && this.proc?.exitCode !== undefined;
  }

  /** Wait for a log line matching `pred`. */
  waitForLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.lines.find(pred);
        if (hit) return resolve(hit);
        if (this.exited || Date.now() > deadline) {
          clearTimeout(timer);
          return reject(new Error(`${this.exited ? 'lanboot exited' : 'timeout'} waiting for ${what}; lanboot output:\n${this.text.slice(-3000)}`));
        }
        this.waiters.push(check);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        check();
      }, timeoutMs + 10);
      check();
    });
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => p.kill('SIGKILL'), 3000);
      p.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      p.kill('SIGTERM');
    });
  }
}

/** Missing pieces that make the e2e impossible on this machine (listed, so a skip says why). */
export function e2eMissing(cli: string): string[] {
  const need = [
    '/usr/bin/qemu-system-x86_64',
    '/usr/sbin/tgtd',
    '/usr/sbin/tgtadm',
    '/usr/sbin/dnsmasq',
    '/usr/lib/ipxe/undionly.kpxe',
    '/usr/lib/ipxe/snponly.efi',
    '/usr/lib/ipxe/qemu/efi-e1000.rom',
    '/usr/share/OVMF/OVMF_CODE.fd',
    '/usr/share/OVMF/OVMF_VARS.fd',
    '/usr/sbin/mkfs.vfat', // the UEFI disk's EFI system partition
    '/usr/bin/mcopy',
    '/usr/bin/mmd',
    '/dev/net/tun',
    cli,
  ];
  return need.filter((p) => !existsSync(p));
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
