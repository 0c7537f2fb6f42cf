/**
 * A tiny bootable disk for the end-to-end test: an MBR whose code writes a
 * marker string to COM1 (0x3F8) and halts. The test passes only when that
 * marker shows up on the VM's serial output, so the bytes here are the proof
 * that iPXE really booted the iSCSI LUN.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Heads and sectors per track the partition entry implies (iPXE guesses the geometry from it). */
const HEADS = 64;
const SECTORS = 32;

/**
 * Build a disk image of `sizeMiB` MiB whose boot sector prints `marker` + "\r\n" to COM1.
 * The partition entry matters: iPXE (Debian's 2019 build) derives the BIOS
 * geometry from the partition table's end CHS; without an entry a tiny disk
 * computes zero cylinders and INT 13 refuses to boot it.
 */
export function bootDiskImage(marker: string, sizeMiB = 2): Buffer {
  const msg = Buffer.from(`\r\n${marker}\r\n\0`, 'latin1');
  const sectorsTotal = (sizeMiB * 1024 * 1024) / 512;
  const img = Buffer.alloc(sizeMiB * 1024 * 1024);

  // 16-bit real-mode code, loaded by the BIOS at 0000:7C00.
  const code: number[] = [
    0xfa, //             cli
    0x31, 0xc0, //       xor ax, ax
    0x8e, 0xd8, //       mov ds, ax          ; DS = 0 so SI can be an absolute 7Cxx address
    0xfc, //             cld                 ; lodsb counts upwards
    0xbe, 0x00, 0x00, // mov si, msg         ; patched below with 0x7C00 + msg offset
    0xba, 0xf8, 0x03, // mov dx, 0x03F8      ; COM1 transmit holding register
    // next:
    0xac, //             lodsb               ; AL = [DS:SI], SI++
    0x84, 0xc0, //       test al, al
    0x74, 0x03, //       jz halt             ; NUL ends the string (skips out + jmp = 3 bytes)
    0xee, //             out dx, al          ; QEMU's 16550 emits THR writes without setup
    0xeb, 0xf8, //       jmp next            ; back 8 bytes: lodsb..jmp
    // halt:
    0xf4, //             hlt
    0xeb, 0xfd, //       jmp halt            ; stay halted even after an interrupt
  ];
  const msgOffset = code.length;
  const msgAddr = 0x7c00 + msgOffset;
  code[7] = msgAddr & 0xff;
  code[8] = msgAddr >> 8;
  Buffer.from(code).copy(img, 0);
  if (msgOffset + msg.length > 446) throw new Error('marker too long for the boot sector');
  msg.copy(img, msgOffset);

  // One partition entry (at 0x1BE) covering LBA 32..end: cylinder-aligned with
  // HEADS x SECTORS so iPXE's geometry guess yields whole cylinders.
  const first = SECTORS; // LBA 32 = C0/H1/S1
  const last = sectorsTotal - 1;
  const e = 0x1be;
  img[e] = 0x80; // active
  chs(first).copy(img, e + 1);
  img[e + 4] = 0x83; // Linux; the type does not matter to the BIOS
  chs(last).copy(img, e + 5);
  img.writeUInt32LE(first, e + 8);
  img.writeUInt32LE(last - first + 1, e + 12);
  img[510] = 0x55;
  img[511] = 0xaa;
  return img;
}

function chs(lba: number): Buffer {
  const c = Math.floor(lba / (HEADS * SECTORS));
  const rem = lba % (HEADS * SECTORS);
  const h = Math.floor(rem / SECTORS);
  const s = (rem % SECTORS) + 1;
  return Buffer.from([h, s | ((c >> 8) << 6), c & 0xff]);
}

/**
 * A minimal UEFI application (PE32+, x86-64, subsystem 10) that writes
 * `marker` through SystemTable->ConOut->OutputString and then spins. OVMF
 * mirrors ConOut on the serial port, so the marker proves that the firmware
 * loaded and started \EFI\BOOT\BOOTX64.EFI from the iSCSI disk. Position-
 * independent code (RIP-relative), so it needs no relocations.
 */
export function efiMarkerApp(marker: string): Buffer {
  const text = Buffer.from(`\r\n${marker}\r\n\0`, 'utf16le');
  // MS x64 ABI at entry: RCX = ImageHandle, RDX = SystemTable.
  const code = Buffer.from([
    0x48, 0x83, 0xec, 0x28, //                   sub rsp, 40            ; shadow space, 16-byte alignment
    0x48, 0x8b, 0x4a, 0x40, //                   mov rcx, [rdx+0x40]    ; SystemTable->ConOut
    0x48, 0x8d, 0x15, 0x05, 0x00, 0x00, 0x00, // lea rdx, [rip+5]       ; the string after this code
    0xff, 0x51, 0x08, //                         call [rcx+8]           ; ConOut->OutputString(ConOut, str)
    0xeb, 0xfe, //                               jmp $                  ; stay: returning would boot on
  ]);
  const section = Buffer.concat([code, text]);
  const FILE_ALIGN = 0x200;
  const SECT_ALIGN = 0x1000;
  const rawSize = Math.ceil(section.length / FILE_ALIGN) * FILE_ALIGN;
  const img = Buffer.alloc(FILE_ALIGN + rawSize);
  // DOS header: "MZ", e_lfanew
  img.write('MZ', 0, 'latin1');
  img.writeUInt32LE(0x40, 0x3c);
  let o = 0x40;
  img.write('PE\0\0', o, 'latin1');
  o += 4;
  // COFF file header
  img.writeUInt16LE(0x8664, o); // x86-64
  img.writeUInt16LE(1, o + 2); // one section
  img.writeUInt16LE(240, o + 16); // optional header size (PE32+ with 16 data directories)
  img.writeUInt16LE(0x0022, o + 18); // executable, large address aware (relocations not stripped: none needed)
  o += 20;
  // Optional header, PE32+
  const opt = o;
  img.writeUInt16LE(0x20b, opt);
  img.writeUInt32LE(rawSize, opt + 4); // SizeOfCode
  img.writeUInt32LE(SECT_ALIGN, opt + 16); // AddressOfEntryPoint
  img.writeUInt32LE(SECT_ALIGN, opt + 20); // BaseOfCode
  img.writeBigUInt64LE(0x400000n, opt + 24); // ImageBase
  img.writeUInt32LE(SECT_ALIGN, opt + 32);
  img.writeUInt32LE(FILE_ALIGN, opt + 36);
  img.writeUInt32LE(SECT_ALIGN + Math.ceil(section.length / SECT_ALIGN) * SECT_ALIGN, opt + 56); // SizeOfImage
  img.writeUInt32LE(FILE_ALIGN, opt + 60); // SizeOfHeaders
  img.writeUInt16LE(10, opt + 68); // Subsystem: EFI application
  img.writeBigUInt64LE(0x10000n, opt + 72); // stack reserve
  img.writeBigUInt64LE(0x1000n, opt + 80); // stack commit
  img.writeBigUInt64LE(0x10000n, opt + 88); // heap reserve
  img.writeBigUInt64LE(0x1000n, opt + 96); // heap commit
  img.writeUInt32LE(16, opt + 108); // NumberOfRvaAndSizes (all zero)
  o = opt + 240;
  // Section header: .text, code | execute | read
  img.write('.text', o, 'latin1');
  img.writeUInt32LE(section.length, o + 8); // VirtualSize
  img.writeUInt32LE(SECT_ALIGN, o + 12); // VirtualAddress
  img.writeUInt32LE(rawSize, o + 16); // SizeOfRawData
  img.writeUInt32LE(FILE_ALIGN, o + 20); // PointerToRawData
  img.writeUInt32LE(0x60000020, o + 36);
  section.copy(img, FILE_ALIGN);
  return img;
}

/**
 * A disk whose only partition (MBR type 0xEF, from LBA 2048) is an EFI
 * system partition holding `efiApp` as \EFI\BOOT\BOOTX64.EFI, the path UEFI
 * (and iPXE's EFI sanboot) starts from removable or SAN media. The FAT is
 * made by mkfs.vfat and filled by mtools.
 */
export function espDiskImage(efiApp: Buffer, workDir: string, sizeMiB = 8): Buffer {
  const start = 2048;
  const partSectors = (sizeMiB * 1024 * 1024) / 512 - start;
  const part = path.join(workDir, 'esp.part');
  const app = path.join(workDir, 'BOOTX64.EFI');
  fs.rmSync(part, { force: true });
  fs.writeFileSync(app, efiApp);
  const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  sh('mkfs.vfat', ['-C', '-n', 'ESP', part, String(partSectors / 2)]);
  sh('mmd', ['-i', part, '::/EFI', '::/EFI/BOOT']);
  sh('mcopy', ['-i', part, app, '::/EFI/BOOT/BOOTX64.EFI']);
  const img = Buffer.alloc(sizeMiB * 1024 * 1024);
  fs.readFileSync(part).copy(img, start * 512);
  const e = 0x1be;
  img[e + 4] = 0xef; // EFI system partition
  Buffer.from([0xfe, 0xff, 0xff]).copy(img, e + 1); // CHS unused: LBA only
  Buffer.from([0xfe, 0xff, 0xff]).copy(img, e + 5);
  img.writeUInt32LE(start, e + 8);
  img.writeUInt32LE(partSectors, e + 12);
  img[510] = 0x55;
  img[511] = 0xaa;
  return img;
}
