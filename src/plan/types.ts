/**
 * The boot plan's vocabulary. Services turn packets into ClientFacts, ask the
 * plan, and turn its answer into packets. The plan is pure: same facts, same
 * answer; no sockets, no clock, no file reads.
 */
import type { BootKind, HostConfig, IPv4, Mac, RplImage } from '../config/types.js';
import type { Pxe43 } from './pxe-menu.js';
export type { Pxe43 } from './pxe-menu.js';

/** What a service knows about a client. Everything but `mac` is optional. */
export interface ClientFacts {
  mac: Mac;
  /** DHCP option 93 (first entry), RFC 4578 / IANA processor architecture types. */
  arch?: number;
  /** DHCP option 60 as text, e.g. "PXEClient:Arch:00000:UNDI:002001". */
  vendorClass?: string;
  /** DHCP option 77, decoded (bare "iPXE" or RFC 3004 length-prefixed list). */
  userClasses?: string[];
  /** DHCP option 175 present (iPXE encapsulated options). */
  ipxeOptions?: boolean;
  /** Option 97 client UUID/GUID, hex. */
  uuid?: string;
  /** Interface the request came in on (packet socket), if known. */
  iface?: string;
  /** giaddr when relayed. */
  relay?: IPv4;
  /** Our own address as seen by the client (ingress interface address or bound address). */
  serverAddress?: IPv4;
  /** The client's current/assigned IP if known (from lease or ciaddr). */
  ip?: IPv4;
  /** Answered as proxyDHCP (instance or subnet in proxy mode). */
  proxy?: boolean;
  /** The request came to the PXE boot server port (4011). */
  bootServer?: boolean;
  /** 43.71 boot item type the client asks the boot server for. */
  bootItem?: number;
}

export type Firmware =
  | 'bios'
  | 'uefi32'
  | 'uefi64'
  | 'arm32'
  | 'arm64'
  | 'uefi-http'
  | 'unknown';

export type Stage = 'pxe' | 'ipxe' | 'uefi-http' | 'plain';

/** Values derived from one host entry; every output (DHCP options, script, iSCSI) uses these. */
export interface DerivedHost {
  host: HostConfig;
  mac: Mac;
  name: string;
  hostname: string;
  ip?: IPv4;
  iscsi?: IscsiHandoff;
}

export interface IscsiHandoff {
  portal: IPv4 | string;
  port: number;
  lun: number;
  target: string;
  initiator: string;
  /** RFC 4173: iscsi:<portal>::<port>:<lun hex>:<target> */
  rootPath: string;
  /** Extra drives (sanhook --drive 0x81, ...), same form. */
  extraRootPaths: string[];
}

/** The plan's answer for one DHCP request. */
export interface DhcpAnswer {
  stage: Stage;
  firmware: Firmware;
  /** Known host or undefined. */
  host?: DerivedHost;
  /** Fixed address for this client (static host), if any. */
  fixedIp?: IPv4;
  /** Whether to answer at all with boot info (PXE/iPXE); false = plain DHCP only. */
  boot: boolean;
  /** `file` field and option 67. '' = boot from root-path. */
  bootfile?: string;
  /** siaddr and option 66. */
  nextServer?: IPv4;
  /** Option 60 to echo: 'PXEClient' or 'HTTPClient'. */
  vendorClass?: 'PXEClient' | 'HTTPClient';
  /** Option 12. */
  hostname?: string;
  /** Option 17 (only when handoff is dhcp and mode is authoritative). */
  rootPath?: string;
  /** Option 203 iSCSI initiator IQN. */
  initiatorIqn?: string;
  /**
   * PXE discovery control (option 43 suboption 6) to send, e.g. 8 = "no
   * boot-server discovery, use the bootfile"; undefined = send no option 43.
   */
  discoveryControl?: number;
  /** Full PXE option 43 (menu, servers, prompt, boot item); takes the place of discoveryControl. */
  pxe43?: Pxe43;
  /** sname field. */
  serverName?: string;
  /** proxyDHCP: an offer without a file that sends UEFI to the boot server port (4011). */
  redirect?: boolean;
  /** Option 175.176 no-pxedhcp for iPXE. */
  ipxeNoPxeDhcp: boolean;
  /** Not a PXE/HTTP boot client (boot is false): proxyDHCP stays silent, counted as such. */
  notPxe?: boolean;
  /** Why: short human-readable trace of the decision (for logs and `lanboot check`). */
  reason: string;
}

/** TFTP per-client quirks. */
export interface TftpPolicy {
  blksizeMax?: number;
  refuseOptions: string[];
}

/** A file the plan generates per client (scripts by TFTP or HTTP). */
export interface GeneratedFile {
  contentType: string;
  body: string | Buffer;
  mac?: Mac;
}

export interface RplAnswer {
  host: HostConfig;
  image: RplImage;
  frameSize: number;
  blockSize: number;
  pacingUs: number;
  ackEvery: number;
}

export type { BootKind };
