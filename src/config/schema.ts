/**
 * The config schema: what may be written in lanboot.yaml, with defaults and a
 * one-line description per key (the README's key reference is generated from
 * these descriptions by `lanboot schema`).
 *
 * The schema validates the shape; `load.ts` resolves paths and derives values
 * (netmask, lease file...). Templates are checked for known variables here so
 * a typo is refused at load time with its position.
 */
import { z } from 'zod';
import { TEMPLATE_VARS, templateVariables } from './template.js';

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export const MAC_RE = /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i;
/** A host key: one MAC, or a MAC with /bits to match a prefix (rpld's ethernet = .../N). */
export const MAC_KEY_RE = /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}(\/\d{1,2})?$/i;

export const ipv4 = z.string().regex(IPV4_RE, 'expected an IPv4 address like 10.77.0.1');

export const port = z.number().int().min(1).max(65535);

/** "12h", "30m", "1d", "45s" or a plain number of seconds. */
export const duration = z
  .union([z.number().int().positive(), z.string()])
  .transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const m = /^(\d+)\s*(s|m|h|d|w)?$/.exec(v.trim());
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `expected a duration like 12h, 30m, 1d or 3600 (got "${v}")` });
      return z.NEVER;
    }
    const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[(m[2] ?? 's') as 's'];
    return Number(m[1]) * unit;
  });

/** A string that may contain {var} templates; unknown variables are refused. */
export const template = z.string().superRefine((s, ctx) => {
  try {
    for (const v of templateVariables(s)) {
      if (!TEMPLATE_VARS.includes(v as (typeof TEMPLATE_VARS)[number])) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown template variable {${v}}; valid: ${TEMPLATE_VARS.map((x) => `{${x}}`).join(' ')}`,
        });
      }
    }
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

const cidr = z
  .string()
  .refine((v) => /^[^/]+\/\d{1,2}$/.test(v) && IPV4_RE.test(v.split('/')[0]!), 'expected a subnet in CIDR form like 10.77.0.0/24');
const range = z
  .string()
  .refine((v) => {
    const p = v.split('-').map((x) => x.trim());
    return p.length === 2 && p.every((x) => IPV4_RE.test(x));
  }, 'expected a range like 10.77.0.100-10.77.0.199');

/** Integers written as 0x7C00 or 31744. YAML 1.2 reads 0x.. as a number already. */
const address = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^0x[0-9a-f]+$/i, 'expected a number like 0x7C00')
    .transform((s) => parseInt(s, 16)),
]);

const subnet = z
  .object({
    subnet: cidr.describe('The IPv4 subnet in CIDR form, e.g. 10.77.0.0/24.'),
    range: range.optional().describe('Dynamic pool "first-last"; omit to serve static hosts only.'),
    router: ipv4.optional().describe('Default gateway (option 3).'),
    dns: z.array(ipv4).default([]).describe('DNS servers (option 6).'),
    domain: z.string().optional().describe('Domain name (option 15).'),
    lease: duration
      .pipe(z.number().min(60, 'a lease shorter than 60 s makes clients renew in a loop').max(0xfffffffe, 'at most 4294967294 s (option 51 is 32 bits)'))
      .default(43200)
      .describe('Lease time: 12h, 30m, 3600 ... (option 51).'),
    interface: z.string().optional().describe('Serve this subnet on this interface only (multi-homed servers).'),
    proxy: z
      .boolean()
      .optional()
      .describe('Answer this subnet as proxyDHCP (boot info only, no leases) beside authoritative ones, as LTSP runs dnsmasq.'),
    options: z
      .record(z.string().regex(/^\d+$/, 'expected an option code'), z.union([z.string(), z.number(), z.array(z.string())]))
      .default({})
      .describe('Extra options by code: text, IPv4 list, number or 0x-hex bytes.'),
  })
  .strict();

const userClassRule = z
  .object({
    match: z.string().describe('User-class (option 77) string to match exactly.'),
    ipxe: z.boolean().default(false).describe('Whether a client sending it is treated as iPXE (gets the script).'),
    tag: z.string().optional().describe('Tag for per-host selection.'),
  })
  .strict();

const dhcp = z
  .object({
    mode: z.enum(['authoritative', 'proxy']).default('authoritative').describe(
      'authoritative: lease addresses; proxy: another server leases, lanboot only answers PXE clients.',
    ),
    address: ipv4.default('0.0.0.0').describe('Address of the UDP sockets (relayed and unicast traffic).'),
    port: port.default(67).describe('DHCP server port.'),
    proxy_port: port.default(4011).describe('PXE boot-server port, opened in proxy mode or when a subnet has proxy: true.'),
    lease_file: z.string().optional().describe('Lease journal path (default <state_dir>/leases.journal).'),
    subnets: z.array(subnet).default([]).describe('Subnets served; chosen by relay giaddr, ingress interface or address.'),
    user_classes: z
      .array(userClassRule)
      .default([{ match: 'iPXE', ipxe: true }])
      .describe('Option 77 rules like dnsmasq dhcp-userclass; the first match decides.'),
    arp_probe: z
      .boolean()
      .default(true)
      .describe(
        'ARP-probe (RFC 5227) an address before its first offer, on interfaces served by packet sockets; an answer (250 ms wait) keeps it out of the pool for decline_hold.',
      ),
    commit_delay_ms: z.number().int().min(0).max(100).default(0).describe(
      'How long a lease write may wait to share one sync with others; writes queued while one is in flight share the next anyway (group commit).',
    ),
    decline_hold: duration
      .default(600)
      .describe('How long an address a client DECLINEd (found in use) stays out of the pool; default 10m (also 1h, 600 ...).'),
  })
  .strict();

const quirk = z
  .object({
    mac_prefix: z.string().optional().describe('Match clients whose MAC starts with this, e.g. 52:54:00.'),
    arch: z.array(z.number().int()).optional().describe('Match option 93 architectures.'),
    vendor_class: z.string().optional().describe('Match option 60 prefix.'),
    blksize_max: z.number().int().min(8).max(65464).optional().describe('Cap blksize for these clients.'),
    refuse_options: z.array(z.string()).optional().describe('Options never acknowledged for these clients.'),
  })
  .strict();

const tftp = z
  .object({
    address: ipv4.default('0.0.0.0').describe('Listen address.'),
    port: port.default(69).describe('Listen port.'),
    root: z.string().default('/srv/tftp').describe('Directory served; nothing outside it is ever read.'),
    allow_system_root: z
      .boolean()
      .default(false)
      .describe('Allow a root (or upload_dir) that is or contains a system directory such as / or /etc; refused by default.'),
    blksize_max: z.number().int().min(8).max(65464).default(65464).describe('Largest blksize granted (also capped by MTU).'),
    windowsize_max: z.number().int().min(1).max(65535).default(64).describe('Largest windowsize granted (RFC 7440).'),
    timeout: z.number().min(0.05).max(255).default(1).describe('Initial retransmission timeout in seconds.'),
    retries: z.number().int().min(1).max(50).default(6).describe('Retransmissions before a transfer is abandoned.'),
    port_range: z.tuple([port, port]).optional().describe('Ephemeral ports for transfers, [first, last].'),
    max_transfers: z.number().int().min(1).default(1000).describe('Concurrent transfers; more are refused with an error.'),
    max_transfers_per_client: z
      .number()
      .int()
      .min(1)
      .default(32)
      .describe('Concurrent transfers from one client IP address; more are refused with an error (a booting machine runs one or two).'),
    timeout_max: z
      .number()
      .int()
      .min(1)
      .max(255)
      .default(5)
      .describe('Largest timeout option (RFC 2349) honoured, in seconds; a larger one is left out of the OACK and tftp.timeout applies.'),
    no_progress_timeout: z
      .number()
      .min(1)
      .max(3600)
      .default(30)
      .describe('A transfer with no new block acknowledged (or received, for uploads) for this many seconds ends, whatever the client asked.'),
    upload_dir: z.string().optional().describe('Accept uploads (WRQ) into this directory; refused when unset.'),
    upload_overwrite: z.boolean().default(false).describe('Let uploads replace existing files.'),
    quirks: z.array(quirk).default([]).describe('Per-client TFTP quirks by MAC prefix, arch or vendor class.'),
    cache_bytes: z.number().int().min(0).optional().describe('Memory for cached files shared by concurrent clients (default 32 MiB).'),
    cache_file_max: z.number().int().min(0).optional().describe('Largest file kept in memory (default 1 MiB); larger ones are read from a shared descriptor, and not served in netascii mode.'),
    upload_max: z.number().int().min(0).optional().describe('Largest upload accepted, in bytes (default 4 GiB).'),
  })
  .strict();

const http = z
  .object({
    address: ipv4.default('0.0.0.0').describe('Listen address.'),
    port: port.default(80).describe('Listen port.'),
    root: z.string().optional().describe('Static files (kernels, images); default: the TFTP root.'),
    max_connections: z.number().int().min(1).default(512).describe(
      'Connections held at once; more are closed at once. Also kept below the descriptor limit (RLIMIT_NOFILE) minus what TFTP and DHCP may need.',
    ),
    max_connections_per_client: z.number().int().min(1).default(32).describe(
      'Connections one client address may hold at once (iPXE uses one or two); more are closed at once, so one host cannot hold them all.',
    ),
    allow_system_root: z
      .boolean()
      .optional()
      .describe('Allow a root that is or contains a system directory such as / or /etc; default: as tftp.allow_system_root when the TFTP root is used.'),
  })
  .strict();

const admin = z
  .object({
    address: ipv4.default('127.0.0.1').describe('Status page and metrics address (loopback by default).'),
    port: port.default(8067).describe('Status page port.'),
  })
  .strict();

const rplFile = z
  .object({
    path: z.string().describe('Image file, relative to the TFTP root unless absolute.'),
    offset: z.number().int().nonnegative().default(0).describe('Start this many bytes into the file.'),
    length: z.number().int().positive().optional().describe('Send only this many bytes.'),
    load: address.describe('Memory address of the first byte, e.g. 0x7C00.'),
  })
  .strict();

export const rplImage = z
  .object({
    files: z.array(rplFile).min(1).describe('Files loaded, each at its own address.'),
    execute: address.describe('Transfer (execute) address sent with the final block.'),
    frame_size: z.number().int().min(128).max(1500).optional().describe('Per-host frame size (rpld framesize).'),
    block_size: z.number().int().min(16).max(1468).optional().describe('Per-host block size (rpld blocksize).'),
    pacing_us: z.number().int().min(0).max(1_000_000).optional().describe('Per-host pacing (rpld pacing).'),
  })
  .strict();

/** Shorthand: `image: ipxe.pxe` = that file at 0x7C00, executed at 0x7C00. */
const rplImageOrPath = z.union([
  rplImage,
  z.string().transform((path): z.output<typeof rplImage> => ({ files: [{ path, offset: 0, load: 0x7c00 }], execute: 0x7c00 })),
]);

const rpl = z
  .object({
    interfaces: z.array(z.string()).optional().describe('Interfaces to listen on (default: top-level interfaces; RPL needs them named).'),
    sap: z.number().int().min(0).max(255).default(0xfc).describe('LLC SAP (rpld -s), 0xFC by default.'),
    frame_size: z.number().int().min(128).max(1500).default(1500).describe('Largest frame used; the client may lower it.'),
    block_size: z.number().int().min(16).max(1468).default(1440).describe('Largest data bytes per frame (rounded down to a multiple of 16).'),
    pacing_us: z.number().int().min(0).max(1_000_000).default(1000).describe('Microseconds between data frames (1000 measured loss-free against a slow ROM model).'),
    ack_every: z.number().int().min(0).default(0).describe('Ask for an acknowledgement every N blocks (0 = never).'),
    image: rplImageOrPath
      .default({ files: [{ path: '/usr/lib/ipxe/ipxe.pxe', offset: 0, load: 0x7c00 }], execute: 0x7c00 })
      .describe("Default image: files + execute, or a file name alone (loaded and started at 0x7C00); default Debian's /usr/lib/ipxe/ipxe.pxe at 0x7C00."),
    session_timeout: z.number().int().min(1).default(30).describe('Seconds of silence before a load is dropped.'),
    max_loads: z.number().int().min(1).max(200).default(8).describe(
      'Loads sending at once; a FIND beyond it is not answered until one ends (the ROM repeats FIND). Bounds what spoofed requests can make lanboot send.',
    ),
    loads_per_mac: z.number().int().min(1).default(4).describe('Loads one MAC may start per minute; more are not answered.'),
  })
  .strict();

const bootKind = z.enum(['script', 'iscsi', 'linux', 'menu', 'local', 'chain', 'rpl', 'none']);

const menuItem = z
  .object({
    text: z.string().describe('Menu line the ROM shows.'),
    arch: z.array(z.number().int().min(0).max(65535)).min(1).describe('Client architectures (option 93) it is offered to.'),
    file: z.string().optional().describe('Boot file fetched when chosen; omit for local boot or another boot server type.'),
    type: z.number().int().min(0).max(65535).optional().describe('PXE boot server type; default 32768 + position among items with a file.'),
    server: ipv4.optional().describe('Boot server address; default this server.'),
    ipxe: z.boolean().optional().describe('Only to iPXE (true) or only to PXE ROMs (false).'),
    proxy: z.boolean().optional().describe('Only in proxy subnets (true) or only in authoritative ones (false).'),
    macs: z.array(z.string().regex(MAC_KEY_RE, 'expected a MAC or MAC prefix like b8:27:eb:00:00:00/24')).optional().describe('Only to these MACs / MAC prefixes.'),
  })
  .strict();

/** Per-host boot slots, like boot:'s ('none' = no boot answer for that client kind). */
const slots = z
  .object({
    bios: z.string().optional().describe('Chain bootfile for BIOS PXE.'),
    uefi: z.string().optional().describe('Chain bootfile for x86-64 UEFI.'),
    uefi32: z.string().optional().describe('Chain bootfile for IA32 UEFI.'),
    arm32: z.string().optional().describe('Chain bootfile for ARM32 UEFI.'),
    arm64: z.string().optional().describe('Chain bootfile for ARM64 UEFI.'),
    http_boot: template.optional().describe('URL for UEFI HTTP boot.'),
    script: template.optional().describe('What iPXE gets: a script URL or a file name.'),
  })
  .strict();

const boot = z
  .object({
    bios: z.string().default('undionly.kpxe').describe('Chain bootfile for BIOS PXE ROMs (arch 0), by TFTP; none = no boot answer.'),
    uefi: z.string().default('snponly.efi').describe('Chain bootfile for x86-64 UEFI (arch 7 and 9).'),
    uefi32: z.string().optional().describe('Chain bootfile for IA32 UEFI (arch 6); default: uefi.'),
    arm32: z.string().optional().describe('Chain bootfile for ARM32 UEFI (arch 10).'),
    arm64: z.string().optional().describe('Chain bootfile for ARM64 UEFI (arch 11).'),
    http_boot: template.optional().describe('URL for UEFI HTTP boot clients (arch 15/16); default http://{http}/<uefi>.'),
    script: template.optional().describe(
      'Boot-script URL for iPXE; default http://{http}/boot/{mac}.ipxe (tftp://{tftp}/... without http).',
    ),
    unknown_clients: z.boolean().default(true).describe('Boot clients that have no host entry.'),
    default: bootKind.default('script').describe('What a host without `boot:` gets.'),
    detect_ipxe: z
      .boolean()
      .default(true)
      .describe('iPXE gets `script`; false: iPXE is answered like its firmware\'s PXE ROM (a dnsmasq setup without iPXE tags).'),
    pxe_options: z
      .boolean()
      .default(true)
      .describe('Authoritative offers to PXE clients carry 60 PXEClient and 43; dnsmasq sends them only with pxe-service/pxe-prompt.'),
    http_client: z
      .boolean()
      .default(true)
      .describe('Echo 60 HTTPClient to UEFI HTTP boot clients (they ignore offers without it).'),
    ipxe_no_pxedhcp: z
      .boolean()
      .default(true)
      .describe('Send iPXE 175.176 so it does not wait for proxyDHCP offers (authoritative mode).'),
    server_name: z.string().optional().describe('Boot server host name in the sname field (dnsmasq dhcp-boot servername).'),
    next_server: ipv4.optional().describe('Boot server address (siaddr) when it is not this server; default: server / ingress address.'),
    menu: z.array(menuItem).optional().describe('PXE boot menu (option 43) offered to PXE ROMs, as dnsmasq pxe-service.'),
    prompt: z
      .object({
        text: z.string().describe('Text the ROM shows.'),
        timeout: z.number().int().min(0).max(255).describe('Seconds before the first item boots (255: wait).'),
      })
      .strict()
      .optional()
      .describe('PXE menu prompt (43.10), as dnsmasq pxe-prompt.'),
  })
  .strict();

const iscsi = z
  .object({
    portal: template.default('{server}').describe('Target portal address.'),
    port: port.default(3260).describe('Target port.'),
    lun: z.number().int().min(0).default(1).describe('LUN (tgt puts the first disk at 1).'),
    target: template.describe('Target IQN template, e.g. iqn.2010-01.lan.example:{name}.'),
    initiator: template.describe('Initiator IQN template, e.g. iqn.2010-01.lan.example:initiator:{name}.'),
    handoff: z.enum(['dhcp', 'script']).default('script').describe(
      'dhcp: option 17 root-path + empty filename; script: the iPXE script sanboots.',
    ),
  })
  .strict();

export const host = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, 'expected a hostname label (letters, digits, -)')
      .optional()
      .describe('Hostname (option 12); default derived from the MAC.'),
    ip: ipv4.optional().describe('Fixed address (inside or outside the pool).'),
    boot: bootKind.optional().describe('What this host boots; default: boot.default (script for a host with rpl:).'),
    ipxe: z.boolean().optional().describe('Force the iPXE stage decision for this host.'),
    bootfile: z.string().optional().describe('Override the chain bootfile.'),
    kernel: template.optional().describe('boot: linux — kernel URL or path.'),
    initrd: template.optional().describe('boot: linux — initrd URL or path.'),
    cmdline: template.optional().describe('boot: linux — kernel command line.'),
    chain: template.optional().describe('boot: chain — URL chained from the script.'),
    menu: z.array(bootKind).optional().describe('boot: menu — entries offered, first is the default.'),
    rpl: z.union([z.literal(true), rplImageOrPath]).optional().describe('Serve this host by RPL: true = rpl.image; a file name, or files + execute, is its own image.'),
    drives: z.array(template).optional().describe('Extra iSCSI targets hooked as 0x81, 0x82...'),
    reset: z.array(template).optional().describe('Reset-hook command as argv (never a shell).'),
    reset_on_boot: z.boolean().optional().describe('Run the reset hook at every SAN boot, before the disk is attached.'),
    slots: slots.optional().describe('This host\'s own boot slots (bios, uefi, arm64, http_boot, script ...); none = no boot answer.'),
  })
  .strict();

export const root = z
  .object({
    server: ipv4.optional().describe('Address advertised as {server}; default: the ingress interface address.'),
    interfaces: z
      .array(z.string())
      .optional()
      .describe(
        'Interfaces DHCP (and RPL) serve with packet sockets. Unset: every interface with an IPv4 address in dhcp.subnets, checked again every 5 s (dnsmasq without interface=); [] = UDP sockets only (loopback, unprivileged).',
      ),
    except_interfaces: z
      .array(z.string())
      .default([])
      .describe('Interfaces DHCP never serves, whatever interfaces says (dnsmasq except-interface, no-dhcp-interface).'),
    log: z
      .object({
        level: z
          .enum(['trace', 'debug', 'info', 'warn', 'error', 'silent'])
          .default('info')
          .describe('Log level; debug logs every dropped packet with its reason.'),
        format: z
          .enum(['text', 'json'])
          .optional()
          .describe(
            "text: one line per event in dnsmasq's manner (DHCPACK(lan0) 10.77.0.101 52:54:00:12:34:56 pc01 ...); json: one JSON object per line with every field, for journald and tools. Unset: text when stdout is a terminal, JSON otherwise (under systemd, to a pipe or a file). lanboot trace reads both. Taken at start; a reload does not change it.",
          ),
      })
      .strict()
      .default({ level: 'info' })
      .describe('Log lines on stdout, one per event, each client event with its MAC.'),
    user: z.string().optional().describe('Drop to this user after binding (when started as root).'),
    group: z.string().optional().describe('Drop to this group after binding.'),
    state_dir: z.string().default('/var/lib/lanboot').describe('Directory for the lease journal, lanboot.pid (which lanboot reload signals) and reset.key.'),
    dhcp: dhcp.nullable().optional().describe('DHCP server; omit to disable.'),
    tftp: tftp.nullable().optional().describe('TFTP server; omit to disable.'),
    http: http.nullable().optional().describe('HTTP server for scripts and files; omit to disable.'),
    rpl: rpl.nullable().optional().describe('RPL responder; omit to disable.'),
    admin: admin.nullable().optional().describe('Status page, JSON API and /metrics; omit to disable.'),
    boot: boot.default(() => boot.parse({})).describe('What PXE ROMs, UEFI and iPXE are handed.'),
    iscsi: iscsi.nullable().optional().describe('iSCSI handoff derived per host.'),
    hosts: z
      .record(z.string().regex(MAC_KEY_RE, 'expected a MAC like 52:54:00:77:00:10 (or a prefix like 52:54:00:00:00:00/24)'), host.nullable())
      .default({})
      .describe('Static hosts keyed by MAC, one line each.'),
  })
  .strict();

export type RawConfig = z.output<typeof root>;
export type RawHost = z.output<typeof host>;
export { rpl as rplSchema, tftp as tftpSchema, dhcp as dhcpSchema, http as httpSchema, boot as bootSchema };
