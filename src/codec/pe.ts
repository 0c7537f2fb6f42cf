/**
 * Just enough of PE/COFF (Microsoft PE Format: MS-DOS stub, signature, COFF
 * file header) to tell what a boot file runs on: UEFI loads PE32/PE32+
 * images built for its own machine type (UEFI spec §2.1.1); a BIOS PXE ROM
 * runs a raw real-mode image, which never starts with the "MZ" DOS header.
 * `lanboot check` uses it to find an .efi in a BIOS slot, a BIOS file in a
 * UEFI slot, or an x86-64 image handed to ARM64.
 */

/** COFF Machine values (PE Format §"Machine Types"). */
export const MACHINE = {
  I386: 0x014c,
  AMD64: 0x8664,
  ARM: 0x01c0,
  THUMB: 0x01c2,
  ARMNT: 0x01c4,
  ARM64: 0xaa64,
  IA64: 0x0200,
  RISCV64: 0x5064,
  LOONGARCH64: 0x6264,
} as const;

/** Bytes a caller should read from the start of a file for decode(): the DOS header and the usual e_lfanew. */
export const HEADER_BYTES = 4096;

export interface PeHeader {
  /** COFF Machine. */
  machine: number;
}

/**
 * The COFF header of a PE image, or undefined when `buf` (the file's first
 * bytes) is not one: no "MZ", no "PE\0\0" at e_lfanew, or too short.
 */
export function decode(buf: Uint8Array): PeHeader | undefined {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 0x40 || b.readUInt16LE(0) !== 0x5a4d) return undefined; // "MZ"
  const off = b.readUInt32LE(0x3c); // e_lfanew
  if (off + 6 > b.length) return undefined;
  if (b.readUInt32LE(off) !== 0x00004550) return undefined; // "PE\0\0"
  return { machine: b.readUInt16LE(off + 4) };
}

/** A person's name for a machine type. */
export function machineName(machine: number): string {
  switch (machine) {
    case MACHINE.I386:
      return 'IA32 (x86)';
    case MACHINE.AMD64:
      return 'x86-64';
    case MACHINE.ARM:
    case MACHINE.THUMB:
    case MACHINE.ARMNT:
      return 'ARM32';
    case MACHINE.ARM64:
      return 'ARM64';
    case MACHINE.IA64:
      return 'Itanium';
    case MACHINE.RISCV64:
      return 'RISC-V 64';
    case MACHINE.LOONGARCH64:
      return 'LoongArch64';
    default:
      return `machine 0x${machine.toString(16)}`;
  }
}
