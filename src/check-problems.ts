/**
 * What `lanboot check` finds that will not work, in a config that loads: no
 * interface to listen on, a missing TFTP root or boot file, a boot file for
 * the wrong firmware (read from its PE header when it is there), a pool or
 * host on the server's own address, menu items and proxy subnets no client
 * can reach. Errors will not work; warnings work, but not as written.
 * Everything it reads of the machine comes through CheckEnv (tests pass
 * their own).
 */
import { openSync, readSync, closeSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config/types.js';
import { NO_BOOT } from './config/types.js';
import { expand } from './config/template.js';
import { BootPlan } from './plan/index.js';
import { inPrefix, ipv4ToNumber } from './net/address.js';
import { addressedInterfaces } from './net/interfaces.js';
import { servedInterfaces, type FoundInterface } from './dhcp/listen.js';
import { decode as decodePe, HEADER_BYTES, MACHINE, machineName } from './codec/pe.js';

export interface CheckProblem {
  /** error: will not work; warning: works, but not as written. */
  severity: 'error' | 'warning';
  line: number;
  /** The config key it is about, e.g. boot.bios. */
  key: string;
  message: string;
  fix: string;
}

export interface CheckEnv {
  /** Interfaces holding IPv4 addresses now. */
  addressed(): FoundInterface[];
  /** Every interface name of this machine. */
  interfaceNames(): string[];
  /** The first bytes of a regular file, or undefined when there is none. */
  head(path: string): Buffer | undefined;
  isDir(path: string): boolean;
}

export const systemEnv: CheckEnv = {
  addressed: addressedInterfaces,
  interfaceNames: () => {
    try {
      return readdirSync('/sys/class/net');
    } catch {
      return [];
    }
  },
  head: (path) => {
    let fd: number | undefined;
    try {
      if (!statSync(path).isFile()) return undefined;
      fd = openSync(path, 'r');
      const b = Buffer.alloc(HEADER_BYTES);
      return b.subarray(0, readSync(fd, b, 0, b.length, 0));
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  },
  isDir: (path) => {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
};

/** What a boot slot is for: who fetches it, and which image runs there. */
interface SlotKind {
  label: string;
  /** undefined: a BIOS (real-mode) image; else the PE machines that run. */
  machines?: number[];
  /** An iPXE build that fits, for the fix. */
  suggest: string;
}
const BIOS: SlotKind = { label: 'BIOS PXE ROMs', suggest: 'undionly.kpxe' };
const UEFI64: SlotKind = { label: 'x86-64 UEFI', machines: [MACHINE.AMD64], suggest: 'snponly.efi (x86-64)' };
const SLOT_KINDS: Record<string, SlotKind> = {
  bios: BIOS,
  uefi: UEFI64,
  uefi32: { label: 'IA32 UEFI', machines: [MACHINE.I386], suggest: 'an IA32 EFI build (snponly.efi for i386)' },
  arm32: { label: 'ARM32 UEFI', machines: [MACHINE.ARM, MACHINE.THUMB, MACHINE.ARMNT], suggest: 'an ARM32 EFI build (snponly.efi for arm32)' },
  arm64: { label: 'ARM64 UEFI', machines: [MACHINE.ARM64], suggest: 'an ARM64 EFI build (snponly.efi for arm64)' },
};
/** Option 93 of a menu item's arch -> the slot kind it boots like. */
function kindOfArch(arch: number): SlotKind | undefined {
  if (arch === 0) return BIOS;
  if (arch === 6) return SLOT_KINDS.uefi32;
  if (arch === 7 || arch === 9) return UEFI64;
  if (arch === 10) return SLOT_KINDS.arm32;
  if (arch === 11) return SLOT_KINDS.arm64;
  return undefined;
}

const BIOS_EXT = /\.(kpxe|kkpxe|kkkpxe|pxe|0|com|lkrn)$/i;

/** What a boot file is, from its header when it is on disk, else from its name. */
function imageOf(name: string, head: Buffer | undefined): { efi: boolean; machine?: number; known: boolean; what: string } {
  if (head) {
    const pe = decodePe(head);
    if (pe) return { efi: true, machine: pe.machine, known: true, what: `an EFI image for ${machineName(pe.machine)}` };
    return { efi: false, known: true, what: 'not an EFI image (a BIOS boot file)' };
  }
  if (/\.efi$/i.test(name)) {
    const machine = /(aa64|arm64|aarch64)/i.test(name) ? MACHINE.ARM64 : /(x64|x86_64|amd64)/i.test(name) ? MACHINE.AMD64 : /(ia32|i386)/i.test(name) ? MACHINE.I386 : undefined;
    return { efi: true, machine, known: machine !== undefined, what: `an EFI image${machine !== undefined ? ` for ${machineName(machine)}` : ''} (by its name)` };
  }
  if (BIOS_EXT.test(name)) return { efi: false, known: true, what: 'a BIOS boot file (by its name)' };
  return { efi: false, known: false, what: 'unknown' };
}

/** Why `image` cannot run on `kind`, or undefined when it can (or cannot be told). */
function wrongFirmware(image: ReturnType<typeof imageOf>, kind: SlotKind): string | undefined {
  if (!image.known && image.machine === undefined) return undefined;
  if (!kind.machines) return image.efi ? image.what : undefined;
  if (!image.efi) return image.what;
  if (image.machine !== undefined && !kind.machines.includes(image.machine)) return image.what;
  return undefined;
}

/** Where Debian's ipxe package has a file of this name, for the fix. */
function debianCopy(name: string, env: CheckEnv): string | undefined {
  const base = name.split('/').pop()!;
  const p = `/usr/lib/ipxe/${base}`;
  return env.head(p) ? p : undefined;
}

export function findProblems(config: Config, env: CheckEnv, lineOf: (path: PropertyKey[]) => number): CheckProblem[] {
  const out: CheckProblem[] = [];
  const add = (severity: CheckProblem['severity'], path: PropertyKey[], message: string, fix: string, line?: number) =>
    out.push({ severity, line: line ?? lineOf(path), key: keyName(path), message, fix });
  const plan = new BootPlan(config);
  const addressed = env.addressed();
  const names = new Set(env.interfaceNames());
  const dhcp = config.dhcp;
  const subnets = dhcp?.subnets ?? [];
  const own = new Map<string, string>(); // address -> interface
  for (const i of addressed) for (const a of i.ipv4) own.set(a.address, i.ifname);
  if (config.server && !own.has(config.server)) own.set(config.server, 'server:');

  // ---- where DHCP listens ------------------------------------------------------
  if (dhcp) {
    const rule = { interfaces: config.interfaces, except: config.except_interfaces, subnets };
    const served = servedInterfaces(rule, addressed);
    if (config.interfaces === undefined) {
      if (served.size === 0)
        add('error', ['dhcp', 'subnets'], `no interface of this machine has an address in ${subnets.map((s) => s.subnet).join(', ')}, so DHCP has no LAN to listen on: only relayed requests would be answered`,
          'give the LAN interface an address in one of them, list the LAN interfaces in interfaces:, or write interfaces: [] when every client comes through a relay');
    } else if (config.interfaces.length > 0) {
      config.interfaces.forEach((name, i) => {
        if (!served.has(name)) return; // excluded: refused at load
        if (!names.has(name)) {
          add('error', ['interfaces', i], `there is no interface ${name} on this machine: lanboot will not start`, 'fix the name (`ip -br link` lists them)');
          return;
        }
        const addrs = addressed.find((x) => x.ifname === name)?.ipv4 ?? [];
        const named = subnets.some((s) => s.interface === name);
        if (!addrs.length) {
          if (!config.server) add('error', ['interfaces', i], `${name} has no IPv4 address: DHCP cannot answer from it`, 'give it an address inside a dhcp.subnets entry (or set server:)');
        } else if (!named && !addrs.some((a) => subnets.some((s) => !s.interface && inPrefix(a.address, s.network, s.prefix)))) {
          add('error', ['interfaces', i], `no dhcp.subnets entry holds an address of ${name} (${addrs.map((a) => `${a.address}/${a.prefix}`).join(', ')}): its clients get no answer`,
            `add a subnet for that network, or name ${name} with a subnet's interface:`);
        }
      });
    } else if (subnets.filter((s) => !s.interface).length > 1) {
      add('warning', ['interfaces'], 'interfaces: [] (UDP only) with several subnets: a broadcast from the LAN cannot be matched to one of them, so only relayed and unicast requests are answered',
        'list the LAN interfaces, or remove interfaces: [] to serve every interface with an address in a subnet');
    }
    config.except_interfaces.forEach((name, i) => {
      if (!names.has(name)) add('warning', ['except_interfaces', i], `there is no interface ${name} on this machine`, 'fix the name (`ip -br link` lists them) or drop it');
    });
    subnets.forEach((s, i) => {
      if (s.interface && !names.has(s.interface))
        add('error', ['dhcp', 'subnets', i, 'interface'], `there is no interface ${s.interface} on this machine: ${s.subnet} is served on it only`, 'fix the name (`ip -br link` lists them)');
    });
    // proxyDHCP answers broadcasts on its own link only (relays aside).
    subnets.forEach((s, i) => {
      if (!(s.proxy || dhcp.mode === 'proxy')) return;
      const onLink = addressed.some((x) => x.ipv4.some((a) => inPrefix(a.address, s.network, s.prefix))) || (s.interface !== undefined && names.has(s.interface));
      if (!onLink && config.interfaces?.length !== 0)
        add('warning', ['dhcp', 'subnets', i, 'subnet'], `no interface of this machine has an address in the proxyDHCP subnet ${s.subnet}: PXE clients there are answered only through a relay`,
          'give this server an address on that network, or have its relay forward to this server too');
    });
  }
  if (config.rpl) {
    const inherited = config.rpl.interfaces === config.interfaces;
    config.rpl.interfaces.forEach((name, i) => {
      if (!names.has(name)) add('error', inherited ? ['interfaces', i] : ['rpl', 'interfaces', i], `there is no interface ${name} on this machine: RPL will not start`, 'fix the name (`ip -br link` lists them)');
    });
  }

  // ---- roots -----------------------------------------------------------------------
  const tftpRoot = config.tftp?.root;
  const tftpRootOk = tftpRoot !== undefined && env.isDir(tftpRoot);
  if (config.tftp && !tftpRootOk)
    add('error', ['tftp', 'root'], `the TFTP root ${tftpRoot} is not a directory: TFTP will not start`, 'create it and put the boot files there, or point tftp.root at them');
  const httpRoot = config.http?.root;
  const httpRootOk = httpRoot !== undefined && env.isDir(httpRoot);
  if (config.http && !httpRootOk && httpRoot !== tftpRoot)
    add('error', ['http', 'root'], `the HTTP root ${httpRoot} is not a directory: files and HTTP boot images are not found`, 'create it, or point http.root at the files');

  // ---- the server's own addresses in pools and hosts ------------------------------------
  subnets.forEach((s, i) => {
    if (!s.range) return;
    const lo = ipv4ToNumber(s.range.start);
    const hi = ipv4ToNumber(s.range.end);
    for (const [a, where] of own) {
      const n = ipv4ToNumber(a);
      if (n >= lo && n <= hi)
        add('warning', ['dhcp', 'subnets', i, 'range'], `the pool ${s.range.start}-${s.range.end} contains this server's address ${a} (${where}): lanboot never offers it, so the pool is one address smaller`,
          'move the range off the server\'s address');
    }
  });
  for (const h of config.hosts) {
    if (h.ip && own.has(h.ip))
      add('error', ['hosts', h.mac, 'ip'], `${h.ip} is this server's own address (${own.get(h.ip)}): host ${h.name} is never offered it`, 'give the host another address', h.line);
  }

  // ---- boot files ------------------------------------------------------------------------
  const boot = config.boot;
  const sample = plan.values('00:00:5e:00:53:01', { serverAddress: config.server ?? '192.0.2.1' });
  const generated = (path: string) => plan.file(path, { mac: '00:00:5e:00:53:01' }) !== undefined;
  // Another next server holds the files; this check cannot see them.
  const filesHere = boot.next_server === undefined || own.has(boot.next_server);
  const reported = new Set<string>();
  /** A TFTP file name as a client asks for it, checked under the TFTP root. */
  const tftpFile = (value: string | undefined, path: PropertyKey[], who: string, kind: SlotKind | undefined, line?: number) => {
    if (value === undefined || value === NO_BOOT || value === '' || value.includes('{') || /^[a-z]+:\/\//i.test(value)) return;
    if (!dhcp) return;
    const name = value.replace(/^\/+/, '');
    if (generated(name)) return;
    // The file itself when it is here, else its name, says which firmware runs it.
    const readable = filesHere && !!config.tftp && tftpRootOk && !name.split('/').includes('..');
    const head = readable ? env.head(join(tftpRoot!, name)) : undefined;
    const wrong = kind && wrongFirmware(imageOf(name, head), kind);
    if (wrong) add('error', path, `${value} is ${wrong}, but it is what ${kind.label} get: they cannot run it`, `hand ${kind.label} ${kind.suggest}, or none`, line);
    if (!filesHere) return;
    if (!config.tftp) {
      if (!reported.has('no-tftp'))
        add('error', path, `${who} are sent ${value} by TFTP, but lanboot's TFTP is off (no tftp: section)`, 'add tftp: { root: /srv/tftp } with the boot files, or set boot.next_server to the TFTP server that has them', line);
      reported.add('no-tftp');
      return;
    }
    if (!readable) return;
    if (!head && !reported.has(`missing:${name}`)) {
      reported.add(`missing:${name}`);
      const copy = debianCopy(name, env);
      add('error', path, `${value} is not in the TFTP root ${tftpRoot}: ${who} will fail to load it`, copy ? `copy ${copy} (Debian's ipxe package) there` : 'put it there, or name a file that is', line);
    }
  };
  /** A URL a client fetches; when it points at lanboot's own HTTP, checked under the HTTP root. */
  const urlFile = (value: string | undefined, path: PropertyKey[], who: string, kind: SlotKind | undefined, line?: number) => {
    if (value === undefined || value === NO_BOOT) return;
    const m = /^(https?|tftp):\/\/([^/]*)\/(.*)$/i.exec(value);
    if (!m) return;
    const [, scheme, host, rest] = m as unknown as [string, string, string, string];
    let name = rest;
    try {
      name = expand(rest, sample);
    } catch {
      return;
    }
    if (rest.includes('{mac') || rest.includes('{name') || rest.includes('{ip') || generated(name)) return;
    const image = imageOf(name, undefined);
    const wrong = kind && wrongFirmware(image, kind);
    if (wrong) add('error', path, `${value} is ${wrong}, but it is what ${kind.label} get: they cannot run it`, `hand ${kind.label} ${kind.suggest}, or none`, line);
    const ours = host === '{http}' || host === '{server}' || host === '{tftp}' || own.has(host.split(':')[0]!);
    if (!ours) return;
    if (/^https?$/i.test(scheme)) {
      if (!config.http) {
        add('warning', path, `${who} are sent ${value}, but lanboot's HTTP is off (no http: section)`, 'add an http: section, or set this slot to none', line);
        return;
      }
      if (!httpRootOk) return;
      const head = env.head(join(httpRoot!, name.split('?')[0]!));
      const fromHead = kind && head ? wrongFirmware(imageOf(name, head), kind) : undefined;
      if (fromHead && !wrong) add('error', path, `${value} is ${fromHead}, but it is what ${kind!.label} get: they cannot run it`, `hand ${kind!.label} ${kind!.suggest}, or none`, line);
      const sameFile = httpRoot === tftpRoot && reported.has(`missing:${name}`);
      if (!head && !sameFile && !reported.has(`missing-http:${name}`)) {
        reported.add(`missing-http:${name}`);
        add('error', path, `${name} is not in the HTTP root ${httpRoot}: ${who} will fail to load ${value}`, 'put it there, or name a file that is', line);
      }
    } else tftpFile(name, path, who, kind, line);
  };

  if (dhcp) {
    for (const [slot, kind] of Object.entries(SLOT_KINDS)) {
      const v = (boot as unknown as Record<string, string | undefined>)[slot];
      tftpFile(v, ['boot', slot], kind.label, kind);
    }
    // HTTP boot: x86-64 UEFI (arch 16) by default; its URL defaults to the uefi file over HTTP.
    const httpBoot = boot.http_boot ?? (boot.uefi !== NO_BOOT ? `http://{http}/${boot.uefi}` : undefined);
    urlFile(httpBoot, ['boot', 'http_boot'], 'UEFI HTTP boot clients', UEFI64);
    if (boot.detect_ipxe) {
      if (/^[a-z]+:\/\//i.test(boot.script)) urlFile(boot.script, ['boot', 'script'], 'iPXE clients', undefined);
      else tftpFile(boot.script, ['boot', 'script'], 'iPXE clients', undefined);
    }
    for (const h of config.hosts) {
      const at = (...rest: string[]) => ['hosts', h.mac, ...rest];
      for (const [slot, kind] of Object.entries(SLOT_KINDS)) tftpFile(h.slots?.[slot as keyof typeof h.slots], at('slots', slot), `${h.name} (${kind.label})`, kind, h.line);
      if (h.bootfile) tftpFile(h.bootfile, at('bootfile'), h.name, undefined, h.line);
      if (h.slots?.http_boot) urlFile(h.slots.http_boot, at('slots', 'http_boot'), `${h.name} (UEFI HTTP boot)`, UEFI64, h.line);
      if (h.slots?.script) (/^[a-z]+:\/\//i.test(h.slots.script) ? urlFile : tftpFile)(h.slots.script, at('slots', 'script'), `${h.name} (iPXE)`, undefined, h.line);
    }
  }

  // ---- menus and proxy subnets ------------------------------------------------------------
  if (dhcp) {
    const proxyHere = dhcp.mode === 'proxy' || subnets.some((s) => s.proxy);
    const leasedHere = dhcp.mode === 'authoritative' && subnets.some((s) => !s.proxy);
    (boot.menu ?? []).forEach((item, i) => {
      if (item.proxy === true && !proxyHere)
        add('warning', ['boot', 'menu', i, 'proxy'], `menu item "${item.text}" is for proxy subnets only, and there is none: it is never offered`, 'drop proxy: true, or add a subnet with proxy: true');
      if (item.proxy === false && !leasedHere)
        add('warning', ['boot', 'menu', i, 'proxy'], `menu item "${item.text}" is for leased subnets only, and every subnet is proxyDHCP: it is never offered`, 'drop proxy: false');
      if (!item.file || (item.server && !own.has(item.server))) return;
      const kinds = (item.arch ?? []).map(kindOfArch).filter((k): k is SlotKind => !!k);
      const image = imageOf(item.file, tftpRootOk ? env.head(join(tftpRoot!, item.file.replace(/^\/+/, ''))) : undefined);
      const fits = kinds.length === 0 || kinds.some((k) => !wrongFirmware(image, k));
      if (!fits)
        add('error', ['boot', 'menu', i, 'file'], `${item.file} is ${image.what}, but menu item "${item.text}" is offered to ${kinds.map((k) => k.label).join(', ')}: they cannot run it`, `hand them ${kinds[0]!.suggest}`);
      tftpFile(item.file, ['boot', 'menu', i, 'file'], `clients choosing "${item.text}"`, undefined);
    });
    const menu = (boot.menu ?? []).length > 0;
    const anySlot = [boot.bios, boot.uefi, boot.uefi32, boot.arm32, boot.arm64, boot.http_boot].some((v) => v !== undefined && v !== NO_BOOT);
    if (proxyHere && !menu && !anySlot)
      add('warning', dhcp.mode === 'proxy' ? ['dhcp', 'mode'] : ['dhcp', 'subnets'], 'proxyDHCP answers no PXE client: every boot slot is none and there is no menu', 'set boot.bios / boot.uefi, or add boot.menu items');
  }
  return out.sort((a, b) => a.line - b.line);
}

function keyName(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
}
