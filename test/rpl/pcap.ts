/** Minimal classic-pcap reader/writer (LINKTYPE_ETHERNET) for RPL test data. */
import { readFileSync, writeFileSync } from 'node:fs';

export function readPcap(file: string): Buffer[] {
  const b = readFileSync(file);
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${file}: not a pcap`);
  const rd = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const out: Buffer[] = [];
  let p = 24;
  while (p + 16 <= b.length) {
    const incl = rd(p + 8);
    out.push(Buffer.from(b.subarray(p + 16, p + 16 + incl)));
    p += 16 + incl;
  }
  return out;
}

export function writePcap(file: string, frames: Buffer[]): void {
  const parts: Buffer[] = [];
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(65535, 16);
  gh.writeUInt32LE(1, 20);
  parts.push(gh);
  frames.forEach((f, i) => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(1_700_000_000 + Math.floor(i / 1000), 0);
    h.writeUInt32LE((i % 1000) * 1000, 4);
    h.writeUInt32LE(f.length, 8);
    h.writeUInt32LE(f.length, 12);
    parts.push(h, f);
  });
  writeFileSync(file, Buffer.concat(parts));
}
