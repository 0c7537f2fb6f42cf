/**
 * The client classes the differential test sends to dnsmasq and to lanboot:
 * the DHCP requests real firmware sends (option lists as EDK2, Intel PXE 2.1
 * ROMs, iPXE and dhclient send them), one MAC per class.
 */

export interface ProbeClass {
  id: string;
  /** Column label in the results table. */
  label: string;
  mac: string;
  /** Options by code (53 is added by the probe). */
  options: Record<number, Buffer>;
  /** A PXE or HTTP boot client: on a proxy link it also asks the boot server on port 4011. */
  pxe: boolean;
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const txt = (s: string) => Buffer.from(s, 'latin1');
const bytes = (...b: number[]) => Buffer.from(b);
const uuid = (n: number) => Buffer.concat([bytes(0), Buffer.alloc(15, 0x11), bytes(n)]);

/** Parameter request lists (option 55). */
const PRL = {
  pxeBios: bytes(1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135),
  edk2: bytes(1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135),
  edk2Http: bytes(1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 67, 97),
  ipxe: bytes(1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203),
  dhclient: bytes(1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42),
};

/** iPXE's option 175: one (code, 1, value) per built-in feature, and the version (235). */
function ipxeFeatures(codes: number[]): Buffer {
  const parts = codes.map((c) => bytes(c, 1, c === 16 ? 2 : 1));
  parts.push(bytes(235, 3, 1, 21, 1));
  return Buffer.concat(parts);
}
/** Debian's undionly.kpxe: DNS HTTP HTTPS iSCSI NFS TFTP VLAN AoE ELF MBOOT PXE bzImage Menu PXEXT. */
const IPXE_BIOS = ipxeFeatures([16, 17, 18, 19, 20, 21, 23, 24, 25, 33, 34, 38, 39, 41]);
/** Debian's snponly.efi: DNS HTTP HTTPS iSCSI NFS TFTP VLAN AoE EFI Menu. */
const IPXE_EFI = ipxeFeatures([17, 18, 19, 20, 21, 23, 36, 38, 39, 41]);

function pxeRom(arch: number, undi: string, prl: Buffer, n: number): Record<number, Buffer> {
  const http = arch === 16 || arch === 19;
  return {
    57: u16(1472),
    55: prl,
    97: uuid(n),
    93: u16(arch),
    94: bytes(1, 3, 0),
    60: txt(`${http ? 'HTTPClient' : 'PXEClient'}:Arch:${String(arch).padStart(5, '0')}:UNDI:${undi}`),
  };
}

export const CLASSES: ProbeClass[] = [
  { id: 'bios', label: 'BIOS PXE', mac: '52:54:00:d1:00:00', pxe: true, options: { ...pxeRom(0, '002001', PRL.pxeBios, 1), 57: u16(1260), 94: bytes(1, 2, 1) } },
  { id: 'uefi7', label: 'UEFI 7', mac: '52:54:00:d1:00:07', pxe: true, options: pxeRom(7, '003016', PRL.edk2, 7) },
  { id: 'uefi9', label: 'UEFI 9', mac: '52:54:00:d1:00:09', pxe: true, options: pxeRom(9, '003016', PRL.edk2, 9) },
  { id: 'arm64', label: 'ARM64', mac: '52:54:00:d1:00:0b', pxe: true, options: pxeRom(11, '003000', PRL.edk2, 11) },
  { id: 'http', label: 'HTTP 16', mac: '52:54:00:d1:00:10', pxe: true, options: pxeRom(16, '003000', PRL.edk2Http, 16) },
  {
    id: 'ipxe-bios', label: 'iPXE BIOS', mac: '52:54:00:d1:01:00', pxe: true,
    options: { 57: u16(1472), 55: PRL.ipxe, 93: u16(0), 94: bytes(1, 2, 1), 60: txt('PXEClient:Arch:00000:UNDI:002001'), 77: txt('iPXE'), 175: IPXE_BIOS },
  },
  {
    id: 'ipxe-uefi', label: 'iPXE UEFI', mac: '52:54:00:d1:01:07', pxe: true,
    options: { 57: u16(1472), 55: PRL.ipxe, 93: u16(7), 94: bytes(1, 3, 10), 60: txt('PXEClient:Arch:00007:UNDI:003010'), 77: txt('iPXE'), 175: IPXE_EFI },
  },
  // The Raspberry Pi bootloader asks like a BIOS PXE ROM; its MAC is what sets it apart.
  { id: 'rpi', label: 'RPi', mac: 'b8:27:eb:d1:00:01', pxe: true, options: { ...pxeRom(0, '002001', PRL.pxeBios, 41), 57: u16(1260), 94: bytes(1, 2, 1) } },
  { id: 'plain', label: 'no PXE', mac: '52:54:00:d1:0f:0f', pxe: false, options: { 55: PRL.dhclient, 57: u16(576) } },
];

/** The classes a configured host (dhcp-host) is probed as, with its own MAC. */
export function hostClasses(mac: string, n: number): ProbeClass[] {
  return ['bios', 'uefi7', 'ipxe-bios'].map((id) => {
    const c = CLASSES.find((x) => x.id === id)!;
    return { ...c, id: `h${n}-${id}`, label: `host${n} ${c.label}`, mac };
  });
}
