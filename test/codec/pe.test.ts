import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decode, HEADER_BYTES, MACHINE, machineName } from '../../src/codec/pe.js';

/** A DOS header whose e_lfanew points at "PE\0\0" + Machine, nothing more. */
function image(machine: number, lfanew = 0x80): Buffer {
  const b = Buffer.alloc(lfanew + 24);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(lfanew, 0x3c);
  b.write('PE\0\0', lfanew, 'latin1');
  b.writeUInt16LE(machine, lfanew + 4);
  return b;
}

describe('PE header', () => {
  it('reads the machine type at e_lfanew', () => {
    expect(decode(image(0xaa64))).toEqual({ machine: MACHINE.ARM64 });
    expect(decode(image(0x8664, 0xc0))).toEqual({ machine: MACHINE.AMD64 });
    expect(decode(image(0x14c))?.machine).toBe(MACHINE.I386);
    expect(machineName(0xaa64)).toBe('ARM64');
    expect(machineName(0x1c4)).toBe('ARM32');
  });
  it('is not a PE image: no MZ, no PE signature, e_lfanew past the bytes read, too short', () => {
    // undionly.kpxe and ipxe.pxe start with a far jump (ea 05 00 c0): real-mode code, no header.
    expect(decode(Buffer.from('ea0500c0' + '00'.repeat(100), 'hex'))).toBeUndefined();
    const noSig = image(0x8664);
    noSig.write('XX', 0x80, 'latin1');
    expect(decode(noSig)).toBeUndefined();
    const far = image(0x8664);
    far.writeUInt32LE(0xfffffff0, 0x3c);
    expect(decode(far)).toBeUndefined();
    expect(decode(Buffer.from('MZ'))).toBeUndefined();
    expect(decode(new Uint8Array(0))).toBeUndefined();
  });
  // .ci/install-deps installs Debian's ipxe package.
  it.skipIf(!existsSync('/usr/lib/ipxe/snponly.efi'))("Debian's iPXE builds: snponly.efi is x86-64 PE, undionly.kpxe is not PE", () => {
    expect(decode(readFileSync('/usr/lib/ipxe/snponly.efi').subarray(0, HEADER_BYTES))?.machine).toBe(MACHINE.AMD64);
    expect(decode(readFileSync('/usr/lib/ipxe/undionly.kpxe').subarray(0, HEADER_BYTES))).toBeUndefined();
  });
});
