/**
 * What a client does with an answer, field by field, so dnsmasq's and
 * lanboot's replies compare on what matters to a booting machine:
 *  - reply: OFFER / ACK / silence (a NAK would show as NAK);
 *  - yiaddr: 0.0.0.0 (proxy), a host's fixed address, else "pool";
 *  - file: option 67 if present, else the file field (what the ROM fetches);
 *  - server_name: option 66, else the sname field (dnsmasq puts it in either,
 *    by what the client asked for), when it names another server than siaddr;
 *  - siaddr when there is something to fetch (a file or option 43);
 *  - a proxy reply with no file and no menu counts as silence: it gives the
 *    client nothing (dnsmasq sends one to every PXE client it proxies);
 *  - the non-PXE client (an OS DHCP client) is compared without file,
 *    server name and siaddr, which it does not use;
 *  - 60 (PXEClient / HTTPClient echo), 43 decoded into PXE suboptions,
 *    compared as a set (a prompt with timeout 0 is dropped: it is never
 *    shown), 175 suboptions;
 *  - any other option except the network ones (1 3 6 12 15 28 51 54 58 59)
 *    and echoes (61 97 82): 209/210 pxelinux paths, 17 root-path ...
 */
import type { SeenReply } from './probe.js';

export type Fields = Record<string, string>;

const NETWORK = new Set([1, 3, 6, 12, 15, 28, 51, 53, 54, 58, 59, 61, 82, 97, 81, 119, 121, 26, 42]);
const HANDLED = new Set([43, 60, 66, 67, 175]);

const hex = (h: string) => Buffer.from(h, 'hex');
const text = (h: string) => hex(h).toString('latin1').replace(/\0+$/, '');

function subs(v: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  for (let i = 0; i < v.length; ) {
    const c = v[i]!;
    if (c === 0) {
      i++;
      continue;
    }
    if (c === 255 || i + 1 >= v.length) break;
    const n = v[i + 1]!;
    out.push([c, v.subarray(i + 2, i + 2 + n)]);
    i += 2 + n;
  }
  return out;
}

/** Option 43 as the PXE client reads it (PXE 2.1 §2.4): control, servers, menu, prompt, item. */
export function pxe43(h: string): string {
  const parts: string[] = [];
  const all = subs(hex(h));
  for (const [c, v] of all) {
    if (c === 6) parts.push(`ctl=${v[0]}`);
    else if (c === 8) {
      const s: string[] = [];
      for (let i = 0; i + 3 <= v.length; ) {
        const type = v.readUInt16BE(i);
        const n = v[i + 2]!;
        s.push(`${type}@${[...v.subarray(i + 3, i + 3 + 4 * n)].join('.')}`);
        i += 3 + 4 * n;
      }
      parts.push(`servers=${s.join(',')}`);
    } else if (c === 9) {
      const m: string[] = [];
      for (let i = 0; i + 3 <= v.length; ) {
        const n = v[i + 2]!;
        m.push(`${v.readUInt16BE(i)}:"${v.subarray(i + 3, i + 3 + n).toString('latin1')}"`);
        i += 3 + n;
      }
      parts.push(`menu=${m.join(',')}`);
    } else if (c === 10) {
      if (v[0] !== 0) parts.push(`prompt=${v[0]}:"${v.subarray(1).toString('latin1')}"`);
    } else if (c === 71) parts.push(`item=${v.length >= 2 ? v.readUInt16BE(0) : '?'}`);
    else parts.push(`${c}=${v.toString('hex')}`);
  }
  return parts.join(' ');
}

export function fields(r: SeenReply | undefined, fixedIps: Set<string>, bootClient = true): Fields {
  if (!r) return { reply: '-' };
  const o = r.options;
  const file = o['67'] !== undefined ? text(o['67']) : r.file;
  const menu = o['43'] !== undefined && /menu=/.test(pxe43(o['43']));
  // A proxy reply with nothing to boot and no menu gives the client nothing.
  if (r.yiaddr === '0.0.0.0' && !file && !menu && (r.type === 2 || r.type === 5) && o['54'] !== undefined && !r.options['1']) return { reply: '-' };
  const f: Fields = { reply: ({ 2: 'OFFER', 5: 'ACK', 6: 'NAK' } as Record<number, string>)[r.type] ?? `type ${r.type}` };
  f.yiaddr = r.yiaddr === '0.0.0.0' || fixedIps.has(r.yiaddr) ? r.yiaddr : 'pool';
  if (bootClient) {
    if (file) f.file = file;
    // The server name: option 66, or the sname field (dnsmasq uses either); naming siaddr again changes nothing.
    const name = o['66'] !== undefined ? text(o['66']) : r.sname;
    if (name && name !== r.siaddr) f.server_name = name;
    if ((file || o['43']) && r.siaddr !== '0.0.0.0') f.siaddr = r.siaddr;
  }
  if (o['60'] !== undefined) f['60'] = text(o['60']);
  if (o['43'] !== undefined) {
    // Suboptions are type-length-value: their order means nothing to the client.
    const p = pxe43(o['43']).split(' ').filter(Boolean).sort().join(' ');
    if (p) f['43'] = p;
  }
  if (o['175'] !== undefined) f['175'] = subs(hex(o['175'])).map(([c, v]) => `${c}=${v.toString('hex')}`).join(' ');
  for (const [k, v] of Object.entries(o)) {
    const code = Number(k);
    if (NETWORK.has(code) || HANDLED.has(code)) continue;
    f[k] = /^[\x20-\x7e]*\0?$/.test(hex(v).toString('latin1')) ? text(v) : v;
  }
  return f;
}

/** Field names whose values differ. */
export function diff(a: Fields, b: Fields): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => a[k] !== b[k]);
}

export const show = (f: Fields) => (f.reply === '-' ? 'silent' : Object.entries(f).map(([k, v]) => `${k}=${v}`).join(' '));
