/**
 * A tiny bootable disk for the end-to-end test: an MBR whose code writes a
 * marker string to COM1 (0x3F8) and halts. The test passes only when that
 * marker shows up on the VM's serial output, so the bytes here are the proof
 * that iPXE really booted the iSCSI LUN.
 */

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
