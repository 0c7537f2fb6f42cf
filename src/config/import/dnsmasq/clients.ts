/**
 * The kinds of client lanboot answers differently, as DHCP requests: what a
 * PXE ROM, UEFI (x86, ARM), UEFI HTTP boot, iPXE and an OS DHCP client send
 * (vendor class 60, architecture 93, user class 77, iPXE's 175 features).
 * dnsmasq's tags are evaluated on these, byte for byte.
 */
import type { ClientRequest } from './tags.js';

export type KindId = 'bios' | 'uefi32' | 'uefi' | 'uefi9' | 'arm32' | 'arm64' | 'http' | 'http-arm64' | 'ipxe-bios' | 'ipxe-uefi' | 'plain';

export interface Kind {
  id: KindId;
  label: string;
  arch?: number;
  /** Option 60 starts with a PXE vendor class: dnsmasq's PXE code applies. */
  vendor?: string;
  ipxe: boolean;
  /** Options the client asks for (55). */
  requested: number[];
  request(mac: string): ClientRequest;
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const feats = (codes: number[]) => Buffer.concat([...codes.map((c) => Buffer.from([c, 1, c === 16 ? 2 : 1])), Buffer.from([235, 3, 1, 21, 1])]);
/** iPXE's 175 on BIOS (undionly: PXEXT iSCSI AoE HTTP HTTPS TFTP DNS bzImage MBOOT PXE ELF VLAN Menu NFS) and UEFI (EFI instead of PXE/bzImage). */
const IPXE_BIOS = feats([16, 17, 18, 19, 20, 21, 23, 24, 25, 33, 34, 38, 39, 41]);
const IPXE_EFI = feats([17, 18, 19, 20, 21, 23, 36, 38, 39, 41]);
const ROM_REQUESTS = [1, 3, 6, 12, 13, 15, 17, 28, 43, 54, 60, 66, 67, 97];
const IPXE_REQUESTS = [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 175, 203];

function rom(id: KindId, label: string, arch: number, http = false): Kind {
  const vendor = `${http ? 'HTTPClient' : 'PXEClient'}:Arch:${String(arch).padStart(5, '0')}:UNDI:003000`;
  const requested = http ? ROM_REQUESTS.filter((c) => c !== 66) : ROM_REQUESTS;
  return {
    id, label, arch, vendor, ipxe: false, requested,
    request: (mac) => ({
      mac,
      options: new Map<number, Buffer>([
        [55, Buffer.from(requested)], [60, Buffer.from(vendor)], [93, u16(arch)], [94, Buffer.from([1, 3, 0])],
        [97, Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 0x11)])],
      ]),
    }),
  };
}

function ipxe(id: KindId, label: string, arch: number, features: Buffer): Kind {
  const vendor = `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:00${arch === 0 ? '2001' : '3010'}`;
  return {
    id, label, arch, vendor, ipxe: true, requested: IPXE_REQUESTS,
    request: (mac) => ({
      mac,
      options: new Map<number, Buffer>([
        [55, Buffer.from(IPXE_REQUESTS)], [60, Buffer.from(vendor)], [77, Buffer.from('iPXE')], [93, u16(arch)],
        [94, Buffer.from([1, 2, 1])], [175, features],
      ]),
    }),
  };
}

export const KINDS: Kind[] = [
  rom('bios', 'BIOS PXE', 0),
  rom('uefi32', 'IA32 UEFI', 6),
  rom('uefi', 'x86-64 UEFI (arch 7)', 7),
  rom('uefi9', 'x86-64 UEFI (arch 9)', 9),
  rom('arm32', 'ARM32 UEFI', 10),
  rom('arm64', 'ARM64 UEFI', 11),
  rom('http', 'UEFI HTTP boot', 16, true),
  rom('http-arm64', 'ARM64 UEFI HTTP boot', 19, true),
  ipxe('ipxe-bios', 'iPXE (BIOS)', 0, IPXE_BIOS),
  ipxe('ipxe-uefi', 'iPXE (UEFI)', 7, IPXE_EFI),
  {
    id: 'plain', label: 'a non-PXE client', ipxe: false, requested: [1, 3, 6, 12, 15, 28, 42],
    request: (mac) => ({ mac, options: new Map([[55, Buffer.from([1, 3, 6, 12, 15, 28, 42])]]) }),
  },
];

export const kind = (id: KindId): Kind => KINDS.find((k) => k.id === id)!;

/** A MAC no dhcp-mac pattern is written for, for clients that are nobody in particular. */
export const ANY_MAC = '02:00:00:00:00:01';
