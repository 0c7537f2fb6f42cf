/**
 * iPXE scripts, generated per host from the derived values (DerivedHost), so
 * the initiator IQN, target and root-path in a script are the same strings the
 * DHCP answer uses. Pure: same input, same text (golden-file tested).
 *
 * Every script ends in failure handling: a message, a few seconds in which
 * "s" opens the iPXE shell, then a retry (or the menu again). A silent stop
 * leaves a diskless machine dark with no hint why.
 *
 * iPXE facts the scripts rely on (ipxe.org/cmd/sanboot, src/usr/autoboot.c):
 * - When DHCP gave a root-path (option 17) and a filename, iPXE hooks that SAN
 *   device (drive 0x80, or san-drive) BEFORE running the script. Hooking the
 *   same URI again fails, so the script checks ${root-path} at run time and
 *   then boots the hooked drive (`sanboot --drive 0x80`, no URI).
 * - In proxyDHCP mode option 17 cannot be delivered; the script carries the
 *   whole handoff (`set initiator-iqn`, `sanhook`, `sanboot`).
 * - `sanboot` without --keep unhooks its drive when the boot returns; --keep
 *   keeps it so a retry (or an OS installer) still sees the disk.
 * - When a script exits, a root-path hooked by DHCP is booted unless
 *   skip-san-boot is set: "local" sets it so `exit` reaches the next device.
 */
import { expand, type TemplateValues } from '../config/template.js';
import type { BootKind } from '../config/types.js';
import type { DerivedHost, Firmware } from './types.js';

export interface ScriptContext {
  /** Client MAC, lower-case colon form. */
  mac: string;
  /** Firmware as far as known; 'unknown' (e.g. an HTTP request) decides at run time where it matters. */
  firmware: Firmware;
  /** iscsi.handoff from the config. 'dhcp' means option 17 may have been hooked already. */
  handoff: 'dhcp' | 'script';
  /** dhcp.mode === 'proxy': option 17 never reaches the client. */
  proxy: boolean;
  /** Our address as the client sees it (for tftp:// fallbacks). */
  serverAddress: string;
  /** The plan's template values for this client ({name} {mac} {ip} {server} {http} {tftp} {iqn}...): derived once, by the plan. */
  values: TemplateValues;
  /** e.g. "http://10.77.0.1:8080"; '' when the HTTP service is off (no reset item, files by TFTP). */
  httpBase: string;
  /** Proof for the reset URL that this client fetched its own script (see hooks/reset-token.ts); none = the reset will be refused. */
  resetToken?: string;
  /** UEFI SAN bootloader path inside the disk (sanboot --filename); default per firmware. */
  sanFilename?: string;
  /** Menu timeout in ms (choose --timeout); default 5000. */
  menuTimeoutMs?: number;
  /** Seconds the failure prompt waits before retrying; default 10. */
  retrySeconds?: number;
}

/** The removable-media bootloader UEFI looks for (docs/boot-flow.md §6), per firmware. */
const UEFI_DEFAULT_LOADER: Partial<Record<Firmware, string>> = {
  uefi64: '\\EFI\\BOOT\\BOOTX64.EFI',
  uefi32: '\\EFI\\BOOT\\BOOTIA32.EFI',
  arm64: '\\EFI\\BOOT\\BOOTAA64.EFI',
  arm32: '\\EFI\\BOOT\\BOOTARM.EFI',
};

/** The host's reset URL; the token is [0-9a-f.] only, nothing iPXE would expand. */
function resetUrl(ctx: ScriptContext): string {
  return `${ctx.httpBase}/reset/${ctx.mac}${ctx.resetToken ? `?token=${ctx.resetToken}` : ''}`;
}

/** BIOS INT 13 drive numbers: 0x80 is the boot drive, extra SAN disks follow. */
const drive = (i: number) => `0x${(0x80 + i).toString(16)}`;

/** One-key shortcuts in the menu (r = reset, s = shell). */
const MENU_KEYS: Partial<Record<BootKind, string>> = { iscsi: 'i', linux: 'l', chain: 'c', local: 'd' };

/** Kinds an iPXE menu can offer (rpl is for ISA ROMs; menu/none/script are not leaf choices). */
const MENU_KINDS: BootKind[] = ['iscsi', 'linux', 'chain', 'local'];

/**
 * The iPXE script for a client. `d` undefined = not in `hosts`: a generic
 * script that says so and falls back to the next boot device.
 */
export function ipxeScript(d: DerivedHost | undefined, ctx: ScriptContext): string {
  const w = new ScriptWriter(ctx);
  if (!d) return unknownClient(w, ctx);
  const kind = effectiveKind(d);
  w.line('#!ipxe');
  w.line(`# lanboot: ${oneLine(d.name)} (${ctx.mac}) boot: ${d.host.boot}${kind !== d.host.boot ? ` -> ${kind}` : ''}`);
  if (d.iscsi) w.line(`# iSCSI handoff: ${describeHandoff(ctx)}`);
  w.blank();

  if (kind === 'menu') {
    menu(w, d, ctx);
  } else {
    section(w, d, ctx, kind, 'boot', { onFail: 'retry' });
  }
  return w.text();
}

/** What a host entry boots when it says `script` (or nothing specific): the richest thing configured. */
export function effectiveKind(d: DerivedHost): BootKind {
  const h = d.host;
  if (h.boot !== 'script') return h.boot;
  if (d.iscsi) return 'iscsi';
  if (h.kernel) return 'linux';
  if (h.chain) return 'chain';
  return 'local';
}

/** The choices a menu host gets: its `menu` list, else everything it has configured, then local. */
export function menuChoices(d: DerivedHost): BootKind[] {
  const h = d.host;
  const listed = h.menu && h.menu.length > 0 ? h.menu : undefined;
  const auto: BootKind[] = [];
  if (!listed) {
    if (d.iscsi) auto.push('iscsi');
    if (h.kernel) auto.push('linux');
    if (h.chain) auto.push('chain');
    auto.push('local');
  }
  const out: BootKind[] = [];
  for (const k of listed ?? auto) {
    if (!MENU_KINDS.includes(k) || out.includes(k)) continue;
    if (k === 'iscsi' && !d.iscsi) continue;
    if (k === 'linux' && !h.kernel) continue;
    if (k === 'chain' && !h.chain) continue;
    out.push(k);
  }
  if (out.length === 0) out.push('local');
  return out;
}

function describeHandoff(ctx: ScriptContext): string {
  if (ctx.proxy) return 'proxyDHCP (no option 17), the script attaches the disk';
  if (ctx.handoff === 'dhcp') return 'option 17 from DHCP; the script boots the hooked drive if iPXE attached it';
  return 'by this script (no option 17)';
}

function unknownClient(w: ScriptWriter, ctx: ScriptContext): string {
  w.line('#!ipxe');
  w.line(`# lanboot: ${ctx.mac} is not in hosts`);
  w.blank();
  w.line(`echo lanboot: no host entry for ${ctx.mac} (\${net0/ip}); add it under hosts: in the config`);
  w.line('echo lanboot: falling back to the next boot device');
  w.line(`prompt --key s --timeout ${retryMs(ctx)} Press s for the iPXE shell... && shell ||`);
  w.line('exit 1');
  return w.text();
}

interface SectionOpts {
  /** 'retry' = loop on this section after the failure prompt; 'menu' = back to the menu. */
  onFail: 'retry' | 'menu';
}

/** One boot choice as a labelled block `<p>` with its own failure path `<p>_failed`. */
function section(w: ScriptWriter, d: DerivedHost, ctx: ScriptContext, kind: BootKind, p: string, o: SectionOpts): void {
  w.label(p);
  switch (kind) {
    case 'iscsi':
      iscsi(w, d, ctx, p);
      break;
    case 'linux':
      linux(w, d, ctx, p);
      break;
    case 'chain':
      chain(w, d, ctx, p);
      break;
    case 'local':
    case 'none':
    case 'rpl':
    case 'menu':
    case 'script':
      local(w, d, ctx, kind);
      return; // exit does not come back
  }
  w.label(`${p}_failed`);
  w.line(`echo lanboot: ${what(kind)} of ${oneLine(d.name)} failed: \${errno}`);
  if (kind === 'iscsi') unhookOwn(w, d);
  if (o.onFail === 'retry') {
    w.line(`prompt --key s --timeout ${retryMs(ctx)} Press s for the iPXE shell, or wait to retry... && shell ||`);
    w.line(`goto ${p}`);
  } else {
    w.line(`prompt --key s --timeout ${retryMs(ctx)} Press s for the iPXE shell, or wait for the menu... && shell ||`);
    w.line('goto menu');
  }
}

function what(kind: BootKind): string {
  return kind === 'iscsi' ? 'SAN boot' : kind === 'linux' ? 'Linux boot' : kind === 'chain' ? 'chain' : 'boot';
}

function iscsi(w: ScriptWriter, d: DerivedHost, ctx: ScriptContext, p: string): void {
  const s = d.iscsi!;
  w.line(`set initiator-iqn ${s.initiator}`);
  // Option 17 + a filename: iPXE attached the root-path as drive 0x80 before
  // this script ran; attaching it twice fails, so boot what is there.
  w.line(`iseq x\${root-path} x${s.rootPath} && goto ${p}_hooked ||`);
  if (d.host.reset_on_boot && d.host.reset?.length && ctx.httpBase) {
    // Before attaching: the disk must not change under a logged-in initiator.
    w.line(`echo lanboot: resetting the disk of ${oneLine(d.name)} before boot`);
    w.line(`chain --autofree ${resetUrl(ctx)} || goto ${p}_failed`);
  }
  w.line(`echo lanboot: attaching ${s.rootPath}`);
  w.line(`sanhook --drive ${drive(0)} ${s.rootPath} || goto ${p}_failed`);
  w.label(`${p}_hooked`);
  s.extraRootPaths.forEach((uri, i) => {
    w.line(`sanhook --drive ${drive(i + 1)} ${uri} || goto ${p}_failed`);
  });
  const filename = sanFilename(ctx);
  w.line(`echo lanboot: booting ${oneLine(d.name)} from SAN drive ${drive(0)}`);
  w.line(`sanboot --keep --drive ${drive(0)}${filename ? ` --filename ${filename}` : ''} || goto ${p}_failed`);
}

/** On failure, detach what the script attached so a retry can attach again; a DHCP-hooked root stays. */
function unhookOwn(w: ScriptWriter, d: DerivedHost): void {
  const s = d.iscsi!;
  s.extraRootPaths.forEach((_u, i) => w.line(`sanunhook --drive ${drive(i + 1)} ||`));
  w.line(`iseq x\${root-path} x${s.rootPath} || sanunhook --drive ${drive(0)} ||`);
}

function sanFilename(ctx: ScriptContext): string | undefined {
  if (ctx.sanFilename) return ctx.sanFilename;
  return UEFI_DEFAULT_LOADER[ctx.firmware];
}

function linux(w: ScriptWriter, d: DerivedHost, ctx: ScriptContext, p: string): void {
  const h = d.host;
  const kernelPath = tpl(h.kernel!, ctx);
  const kernel = url(kernelPath, ctx);
  const initrdPath = h.initrd ? tpl(h.initrd, ctx) : undefined;
  const isMemdisk = basename(kernelPath).toLowerCase() === 'memdisk';
  let args = h.cmdline ? tpl(h.cmdline, ctx) : '';
  if (isMemdisk && !args && initrdPath && /\.iso$/i.test(initrdPath)) args = 'iso raw';
  // The EFI stub finds the initrd by name (iPXE docs, cmd/initrd); BIOS kernels ignore it.
  if (initrdPath && !isMemdisk && !/(^|\s)initrd=/.test(args)) args = `initrd=${basename(initrdPath)}${args ? ' ' + args : ''}`;
  w.line('imgfree ||');
  w.line(`echo lanboot: loading ${isMemdisk ? 'memdisk' : 'kernel'} ${kernel}`);
  w.line(`kernel ${kernel}${args ? ' ' + args : ''} || goto ${p}_failed`);
  if (initrdPath) w.line(`initrd ${url(initrdPath, ctx)} || goto ${p}_failed`);
  w.line(`boot || goto ${p}_failed`);
}

function chain(w: ScriptWriter, d: DerivedHost, ctx: ScriptContext, p: string): void {
  const target = url(tpl(d.host.chain!, ctx), ctx);
  if (/\.(iso|img)$/i.test(target)) {
    // A disk/CD image straight over HTTP (range requests): iPXE emulates the drive.
    w.line(`echo lanboot: booting image ${target}`);
    w.line(`sanboot --no-describe ${target} || goto ${p}_failed`);
  } else {
    w.line(`echo lanboot: chaining ${target}`);
    w.line(`chain --autofree ${target} || goto ${p}_failed`);
  }
}

function local(w: ScriptWriter, d: DerivedHost, _ctx: ScriptContext, kind: BootKind): void {
  if (kind !== 'local') w.line(`echo lanboot: nothing to boot over the network for ${oneLine(d.name)} (boot: ${kind})`);
  w.line('echo lanboot: booting from the next boot device');
  // A root-path hooked from DHCP would otherwise be booted when the script exits.
  if (d.iscsi) w.line('set skip-san-boot 1');
  w.line('exit');
}

function menu(w: ScriptWriter, d: DerivedHost, ctx: ScriptContext): void {
  const choices = menuChoices(d);
  const reset = Boolean(ctx.httpBase && d.host.reset && d.host.reset.length > 0);
  w.label('menu');
  w.line(`menu lanboot: ${oneLine(d.name)} (${ctx.mac})`);
  for (const k of choices) w.line(`item --key ${MENU_KEYS[k]} ${k} ${menuText(k, d, ctx)}`);
  w.line('item --gap');
  if (reset) w.line(`item --key r reset Reset the disk of ${oneLine(d.name)} (runs its reset hook), then back here`);
  w.line('item --key s shell iPXE shell');
  w.line(`choose --default ${choices[0]} --timeout ${ctx.menuTimeoutMs ?? 5000} target || goto shell`);
  w.line('goto ${target}');
  w.blank();
  for (const k of choices) {
    section(w, d, ctx, k, k, { onFail: 'menu' });
    w.blank();
  }
  if (reset) {
    w.label('reset');
    w.line(`echo lanboot: resetting the disk of ${oneLine(d.name)}...`);
    w.line(`chain --autofree ${resetUrl(ctx)} || goto reset_failed`);
    w.line('goto menu');
    w.label('reset_failed');
    w.line(`echo lanboot: reset of ${oneLine(d.name)} failed: \${errno} (see the lanboot log)`);
    w.line(`prompt --timeout ${retryMs(ctx)} Press any key for the menu... ||`);
    w.line('goto menu');
    w.blank();
  }
  w.label('shell');
  w.line('echo lanboot: type "exit" to return to the menu');
  w.line('shell');
  w.line('goto menu');
}

function menuText(k: BootKind, d: DerivedHost, ctx: ScriptContext): string {
  switch (k) {
    case 'iscsi':
      return `Boot from the iSCSI disk ${d.iscsi!.target}`;
    case 'linux':
      return `Boot Linux (${basename(tpl(d.host.kernel!, ctx))})`;
    case 'chain':
      return `Chain ${url(tpl(d.host.chain!, ctx), ctx)}`;
    default:
      return 'Boot from the local disk';
  }
}

/** Paths in the config are relative to the HTTP root (or the TFTP root when HTTP is off). */
function url(pathOrUrl: string, ctx: ScriptContext): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrUrl) || pathOrUrl.startsWith('${')) return pathOrUrl;
  const rel = pathOrUrl.replace(/^\/+/, '');
  if (ctx.httpBase) return `${ctx.httpBase.replace(/\/+$/, '')}/${rel}`;
  return `tftp://${ctx.serverAddress}/${rel}`;
}

/** Expand the plan's template values in a per-host value; an unknown variable stays literal. */
function tpl(t: string, ctx: ScriptContext): string {
  try {
    return oneLine(expand(t, ctx.values));
  } catch {
    return oneLine(t);
  }
}

function basename(p: string): string {
  const noQuery = p.replace(/[?#].*$/, '');
  return noQuery.slice(noQuery.lastIndexOf('/') + 1) || noQuery;
}

/** A config value must never become a second script line. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

function retryMs(ctx: ScriptContext): number {
  return (ctx.retrySeconds ?? 10) * 1000;
}

class ScriptWriter {
  private readonly lines: string[] = [];
  constructor(readonly ctx: ScriptContext) {}
  line(s: string): void {
    this.lines.push(s);
  }
  label(name: string): void {
    this.lines.push(`:${name}`);
  }
  blank(): void {
    if (this.lines.length && this.lines[this.lines.length - 1] !== '') this.lines.push('');
  }
  text(): string {
    while (this.lines.length && this.lines[this.lines.length - 1] === '') this.lines.pop();
    return this.lines.join('\n') + '\n';
  }
}
