/**
 * The resolved configuration: what `loadConfig()` returns after the YAML has
 * been parsed, validated against the schema and had its defaults filled in.
 * Keys keep the YAML spelling (snake_case) so a key in the docs is a key here.
 * Templates ({name} {mac} {ip} {server} ...) are NOT expanded here: the boot
 * plan expands them per client, so a value is configured exactly once.
 */

/** Lower-case, colon-separated: "52:54:00:77:00:10". */
export type Mac = string;
/** Dotted-quad IPv4 address. */
export type IPv4 = string;

export interface Config {
  /** Path the config was loaded from; used in messages. */
  file: string;
  /**
   * Address advertised as {server} (next-server, script URLs, portal default).
   * When unset, the address of the interface the request came in on.
   */
  server?: IPv4;
  /** Interfaces the DHCP (and by default RPL) packet sockets listen on. [] = UDP sockets only. */
  interfaces: string[];
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent' };
  /** Drop to this user/group after binding sockets when started as root. */
  user?: string;
  group?: string;
  /** Directory for the lease journal and other state. */
  state_dir: string;

  dhcp: DhcpConfig | null;
  tftp: TftpConfig | null;
  http: HttpConfig | null;
  rpl: RplConfig | null;
  admin: AdminConfig | null;

  boot: BootConfig;
  iscsi: IscsiConfig | null;
  /** Static hosts keyed by MAC, in file order. */
  hosts: HostConfig[];
}

export interface DhcpConfig {
  mode: 'authoritative' | 'proxy';
  /** UDP address/ports of the dgram sockets (relayed + unicast traffic). */
  address: IPv4;
  port: number;
  proxy_port: number;
  /** Where the append-only lease journal lives (default: <state_dir>/leases.journal). */
  lease_file: string;
  subnets: SubnetConfig[];
  /**
   * User-class (option 77) rules, like dnsmasq's dhcp-userclass. The first rule
   * whose `match` equals a user-class string decides. Default: [{match: iPXE, ipxe: true}].
   */
  user_classes: UserClassRule[];
  /** ARP-probe an address never leased before offering it. */
  arp_probe: boolean;
  /** Milliseconds the lease journal may wait to batch fsyncs (group commit). */
  commit_delay_ms: number;
  /** Seconds a DECLINEd address stays quarantined (YAML accepts 10m, 1h, 600). */
  decline_hold: number;
}

export interface UserClassRule {
  match: string;
  ipxe: boolean;
  /** Free-form tag the plan can use to select a boot override. */
  tag?: string;
}

export interface SubnetConfig {
  /** CIDR as written: "10.77.0.0/24". */
  subnet: string;
  network: IPv4;
  prefix: number;
  netmask: IPv4;
  /** Dynamic pool; absent = static hosts only. */
  range?: { start: IPv4; end: IPv4 };
  router?: IPv4;
  dns: IPv4[];
  domain?: string;
  /** Lease time in seconds (YAML accepts 12h, 30m, 3600). */
  lease: number;
  /** Interface this subnet is served on (for multi-homed servers); else matched by address. */
  interface?: string;
  /** Extra options by code: value as text, IPv4 list, or hex (0x...). */
  options: Record<number, string>;
  /** Answered as proxyDHCP (boot info only) beside authoritative subnets. */
  proxy?: boolean;
}

export interface BootConfig {
  /** Chain bootfile for BIOS PXE ROMs (arch 0), fetched by TFTP. */
  bios: string;
  /** Chain bootfile for x86-64 UEFI (arch 7 and 9, and 6 if uefi32 unset). */
  uefi: string;
  uefi32?: string;
  arm32?: string;
  arm64?: string;
  /** URL for UEFI HTTP boot clients (arch 15/16/19). Template. */
  http_boot?: string;
  /** The boot-script URL handed to iPXE. Template, e.g. http://{server}/boot/{mac}.ipxe */
  script: string;
  /** Boot clients that are not in `hosts` (the generic script / chain still applies). */
  unknown_clients: boolean;
  /** What a host entry without `boot:` gets. */
  default: BootKind;
  /** false: iPXE is answered like its firmware's PXE ROM (no script stage). */
  detect_ipxe: boolean;
  /** Authoritative offers to PXE clients carry 60 PXEClient and 43. */
  pxe_options: boolean;
  /** Echo 60 HTTPClient to UEFI HTTP boot clients. */
  http_client: boolean;
  /** Send iPXE 175.176 (no-pxedhcp) in authoritative mode. */
  ipxe_no_pxedhcp: boolean;
  /** sname field (boot server host name). */
  server_name?: string;
  /** siaddr when the boot server is another host. */
  next_server?: IPv4;
  /** PXE boot menu (43.9), as dnsmasq pxe-service. */
  menu?: MenuItem[];
  /** PXE menu prompt (43.10), as dnsmasq pxe-prompt. */
  prompt?: { text: string; timeout: number };
}

/** A 'none' in a slot means: no boot answer for that kind of client. */
export const NO_BOOT = 'none';

/** Boot slots: chain files per firmware, HTTP boot URL, what iPXE gets. */
export interface BootSlots {
  bios?: string;
  uefi?: string;
  uefi32?: string;
  arm32?: string;
  arm64?: string;
  http_boot?: string;
  script?: string;
}

export interface MenuItem {
  text: string;
  /** Client architectures (option 93) it is offered to. */
  arch: number[];
  file?: string;
  type?: number;
  server?: IPv4;
  ipxe?: boolean;
  proxy?: boolean;
  /** MACs or MAC/bits prefixes. */
  macs?: string[];
}

export interface IscsiConfig {
  /** Portal address; template. Default {server}. */
  portal: string;
  port: number;
  /** LUN number (decimal in YAML, written as hex in the URI). tgt puts the disk at 1. */
  lun: number;
  /** Target IQN template, e.g. iqn.2010-01.lan.example:{name} */
  target: string;
  /** Initiator IQN template, e.g. iqn.2010-01.lan.example:initiator:{name} */
  initiator: string;
  /**
   * How the SAN handoff is delivered: 'dhcp' puts option 17 (root-path) and an
   * empty filename in the iPXE-stage reply; 'script' leaves 17 out and the
   * script sanboots. proxyDHCP mode always uses 'script' (17 cannot be delivered).
   */
  handoff: 'dhcp' | 'script';
}

export interface TftpConfig {
  address: IPv4;
  port: number;
  /** Directory served; nothing outside it is ever read. */
  root: string;
  /** Largest blksize granted (RFC 2348 allows 8..65464). Also capped by the interface MTU. */
  blksize_max: number;
  windowsize_max: number;
  /** Seconds; initial retransmission timeout before RTT is measured. */
  timeout: number;
  retries: number;
  /** Ephemeral ports for transfers, e.g. [30000, 30100]; absent = any. */
  port_range?: [number, number];
  max_transfers: number;
  /** Uploads (WRQ) are refused unless this is set. */
  upload_dir?: string;
  upload_overwrite: boolean;
  /** Per-client quirks selected by MAC prefix / arch / vendor class. */
  quirks: TftpQuirkRule[];
  /** Memory budget (bytes) of the shared file cache; default 32 MiB. */
  cache_bytes?: number;
  /** Files up to this size (bytes) are cached in memory, bigger ones share a descriptor; default 16 MiB (1 MiB with engine native). */
  cache_file_max?: number;
  /** Largest upload accepted (bytes); default 4 GiB. */
  upload_max?: number;
  /** Data path of octet read transfers: 'native' (C packet loop, default) or 'js' (dgram). */
  engine?: 'native' | 'js';
}

export interface TftpQuirkRule {
  mac_prefix?: string;
  arch?: number[];
  vendor_class?: string;
  blksize_max?: number;
  refuse_options?: string[];
}

export interface HttpConfig {
  address: IPv4;
  port: number;
  /** Directory for static files (kernels, initrds, images). Default: the TFTP root. */
  root: string;
}

export interface AdminConfig {
  address: IPv4;
  port: number;
}

export interface RplConfig {
  /** Interfaces to listen on; default: top-level `interfaces`. */
  interfaces: string[];
  /** LLC SAP, 0xFC by default (rpld's -s). */
  sap: number;
  /** Largest frame we use; negotiated down to the client's. */
  frame_size: number;
  /** Largest data bytes per FILE.DATA.RESPONSE (rounded down to a multiple of 16). */
  block_size: number;
  /** Microseconds between data frames. */
  pacing_us: number;
  /** Set ACK-REQUEST every N blocks and wait for the client (0 = never). */
  ack_every: number;
  /** The image hosts get unless they say otherwise. */
  image: RplImage;
  /** Seconds of silence after which a session is dropped. */
  session_timeout: number;
}

export interface RplImage {
  files: RplFile[];
  /** Transfer (execute) address sent with the final block. */
  execute: number;
  /** Per-host overrides of the rpl section (rpld's HOST framesize/blocksize/pacing). */
  frame_size?: number;
  block_size?: number;
  pacing_us?: number;
}

export interface RplFile {
  /** Relative to the TFTP root unless absolute. */
  path: string;
  offset: number;
  /** Bytes to send; absent = to the end of the file. */
  length?: number;
  load: number;
}

export type BootKind = 'script' | 'iscsi' | 'linux' | 'menu' | 'local' | 'chain' | 'rpl' | 'none';

export interface HostConfig {
  mac: Mac;
  /** Match a MAC prefix instead of one MAC (rpld's ethernet = .../N); in bits. 48 = exact. */
  prefix_bits: number;
  name: string;
  ip?: IPv4;
  boot: BootKind;
  /** Per-host override of the iPXE stage: treat as iPXE / not iPXE regardless of detection. */
  ipxe?: boolean;
  /** Per-host override of the chain bootfile. */
  bootfile?: string;
  /** For boot: linux */
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  /** For boot: chain: a URL or file to chain to from the script. */
  chain?: string;
  /** For boot: menu: the entries offered, first is default. */
  menu?: BootKind[];
  /** Served by RPL (an ISA ROM): the image, resolved from `rpl: true` to the rpl section's default. */
  rpl?: RplImage;
  /** Extra iSCSI drives for sanhook --drive 0x81.. (target templates). */
  drives?: string[];
  /** Command run by the reset hook: argv, never a shell. Templates allowed. */
  reset?: string[];
  /** Run the reset hook from the script at every SAN boot (seed: a fresh copy-on-write disk per boot). */
  reset_on_boot?: boolean;
  /** This host's own boot slots (override boot:'s). */
  slots?: BootSlots;
  /** Source position of the entry, for messages. */
  line: number;
}
