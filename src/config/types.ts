/**
 * The resolved configuration: what `loadConfig()` returns. Every key is
 * described once, in the schema (schema.ts: type, default, meaning); these
 * types are the schema's output plus only what the resolver in load.ts adds
 * or changes (absolute paths, subnet arithmetic, host entries keyed by MAC).
 * Keys keep the YAML spelling (snake_case) so a key in the docs is a key here.
 * Templates ({name} {mac} {ip} {server} ...) are NOT expanded here: the boot
 * plan expands them per client, so a value is configured exactly once.
 */
import type { z } from 'zod';
import type { host, rplImage, root } from './schema.js';

type Raw = z.output<typeof root>;
type Section<K extends 'dhcp' | 'tftp' | 'http' | 'rpl' | 'admin' | 'iscsi'> = NonNullable<Raw[K]>;
type RawSubnet = Section<'dhcp'>['subnets'][number];
type RawHost = z.output<typeof host>;

/** Lower-case, colon-separated: "52:54:00:77:00:10". */
export type Mac = string;
/** Dotted-quad IPv4 address. */
export type IPv4 = string;

export type BootKind = Raw['boot']['default'];
export type RplImage = z.output<typeof rplImage>;
export type RplFile = RplImage['files'][number];
export type UserClassRule = Section<'dhcp'>['user_classes'][number];
export type TftpQuirkRule = Section<'tftp'>['quirks'][number];
export type AdminConfig = Section<'admin'>;
export type IscsiConfig = Section<'iscsi'>;
/** A PXE boot menu item (option 43), as dnsmasq's pxe-service. */
export type MenuItem = NonNullable<Raw['boot']['menu']>[number];
/** Boot slots: chain files per firmware, HTTP boot URL, what iPXE gets (a host's own, or boot:'s). */
export type BootSlots = NonNullable<RawHost['slots']>;

/** A 'none' in a slot means: no boot answer for that kind of client. */
export const NO_BOOT = 'none';

export interface SubnetConfig extends Omit<RawSubnet, 'range' | 'options'> {
  network: IPv4;
  prefix: number;
  netmask: IPv4;
  /** The pool split into its ends; absent = static hosts only. */
  range?: { start: IPv4; end: IPv4 };
  /** Extra options by code, each value as text (IPv4 lists joined by commas). */
  options: Record<number, string>;
}

export interface DhcpConfig extends Omit<Section<'dhcp'>, 'lease_file' | 'subnets'> {
  /** Absolute; default <state_dir>/leases.journal. */
  lease_file: string;
  subnets: SubnetConfig[];
}

/** `root` and `upload_dir` are absolute; `allow_system_root` was decided at load. */
export type TftpConfig = Omit<Section<'tftp'>, 'allow_system_root'>;

export interface HttpConfig extends Omit<Section<'http'>, 'root' | 'allow_system_root'> {
  /** Absolute; default: the TFTP root. */
  root: string;
}

export interface RplConfig extends Omit<Section<'rpl'>, 'interfaces'> {
  /** Default: the top-level `interfaces`. */
  interfaces: string[];
}

export interface BootConfig extends Omit<Raw['boot'], 'script'> {
  /** Default http://{http}/boot/{mac}.ipxe, or tftp://{tftp}/... without an http: section. */
  script: string;
}

export interface HostConfig extends Omit<RawHost, 'name' | 'boot' | 'rpl'> {
  mac: Mac;
  /** Match a MAC prefix instead of one MAC (rpld's ethernet = .../N); in bits. 48 = exact. */
  prefix_bits: number;
  /** Default derived from the MAC: host-525400770010. */
  name: string;
  /** Default: boot.default, or script for an RPL host. */
  boot: BootKind;
  /** `rpl: true` resolved to the rpl section's image. */
  rpl?: RplImage;
  /** Source line of the entry, for messages. */
  line: number;
}

export interface Config
  extends Omit<Raw, 'state_dir' | 'dhcp' | 'tftp' | 'http' | 'rpl' | 'admin' | 'boot' | 'iscsi' | 'hosts'> {
  /** Path the config was loaded from; used in messages. */
  file: string;
  /** Absolute. */
  state_dir: string;
  dhcp: DhcpConfig | null;
  tftp: TftpConfig | null;
  http: HttpConfig | null;
  rpl: RplConfig | null;
  admin: AdminConfig | null;
  boot: BootConfig;
  iscsi: IscsiConfig | null;
  /** Static hosts, in file order. */
  hosts: HostConfig[];
}
