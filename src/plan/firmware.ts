import type { BootSlots } from '../config/types.js';
import type { Firmware } from './types.js';

/**
 * Option 93 (RFC 4578 §2.1, IANA "Processor Architecture Types").
 * RFC 4578 lists 7 as "EFI BC" and 9 as "EFI x86-64"; its errata (and every
 * firmware in the field) use 7 for x86-64 too, so both mean uefi64. 2 and 8
 * are Itanium/XScale on paper but some laptops send them for x86-64 UEFI.
 */
export function firmwareOf(arch: number | undefined): Firmware {
  switch (arch) {
    case undefined:
      return 'unknown';
    case 0:
      return 'bios';
    case 6:
      return 'uefi32';
    case 2:
    case 7:
    case 8:
    case 9:
      return 'uefi64';
    case 10:
      return 'arm32';
    case 11:
      return 'arm64';
    case 15: // x86 UEFI HTTP
    case 16: // x64 UEFI HTTP
    case 18: // ARM32 UEFI HTTP
    case 19: // ARM64 UEFI HTTP
      return 'uefi-http';
    default:
      return 'unknown';
  }
}

/** The chain bootfile (iPXE build) a PXE ROM of this firmware gets by TFTP; 'none' passes through. */
export function chainBootfile(fw: Firmware, boot: BootSlots): string | undefined {
  switch (fw) {
    case 'bios':
    case 'unknown':
      return boot.bios;
    case 'uefi64':
      return boot.uefi;
    case 'uefi32':
      return boot.uefi32 ?? boot.uefi;
    case 'arm32':
      return boot.arm32;
    case 'arm64':
      return boot.arm64;
    case 'uefi-http':
      return undefined; // answered with a URL, not a TFTP file
  }
}
