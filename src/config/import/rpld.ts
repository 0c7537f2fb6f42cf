/**
 * `lanboot import rpld FILE`: turn an rpld.conf (docs/rpl.md §9)
 * into lanboot YAML: one `hosts:` entry per HOST block, keyed by MAC (with
 * /bits for rpld's ethernet = MAC/N byte masks), whose `rpl:` image carries
 * the FILE blocks (path, offset, length, load) and execute address; per-host
 * framesize/blocksize/pacing become the image's frame_size/block_size/pacing_us,
 * or `rpl:` defaults when every host agrees. Pure: no file reads.
 */
import { Document, Scalar, isMap, isPair, isSeq } from 'yaml';

import type { ImportResult, ImportWarning } from './types.js';
import { normalizeMac } from '../../net/address.js';
export type { ImportResult, ImportWarning };

type TokKind = 'word' | 'string' | 'punct';
interface Tok {
  kind: TokKind;
  text: string;
  line: number;
}

function tokenize(text: string, warn: (line: number, msg: string) => void): Tok[] {
  const out: Tok[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) i++;
    else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      if (end < 0) warn(line, 'unterminated /* comment');
      for (let k = i; k < stop; k++) if (text[k] === '\n') line++;
      i = stop;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '#') {
      // not rpld syntax, but common in hand-edited files: treat as a comment
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== '"' && text[j] !== '\n') s += text[j++];
      if (text[j] !== '"') warn(line, 'unterminated string');
      out.push({ kind: 'string', text: s, line });
      i = j + 1;
    } else if ('{};=/'.includes(c)) {
      out.push({ kind: 'punct', text: c, line });
      i++;
    } else {
      let j = i;
      while (j < text.length && !/[\s{};="/]/.test(text[j]!) && !(text[j] === '/' && (text[j + 1] === '*' || text[j + 1] === '/'))) j++;
      if (j === i) j++; // a stray character
      out.push({ kind: 'word', text: text.slice(i, j), line });
      i = j;
    }
  }
  return out;
}

interface Directive {
  name: string;
  line: number;
  /** Raw value tokens between '=' and ';' (none for flags). */
  value?: Tok[];
}

interface FileBlock {
  line: number;
  items: Directive[];
}

interface HostBlock {
  line: number;
  items: Directive[];
  files: FileBlock[];
}

function parse(toks: Tok[], warn: (line: number, msg: string) => void): HostBlock[] {
  let p = 0;
  const peek = () => toks[p];
  const eat = (text: string): boolean => {
    if (toks[p]?.text === text && toks[p]!.kind === 'punct') {
      p++;
      return true;
    }
    return false;
  };
  const lastLine = () => toks[Math.min(p, toks.length - 1)]?.line ?? 0;

  /** NAME [= value...] ; — stops at ';' or before '}' (missing ';' is warned). */
  const directive = (): Directive => {
    const name = toks[p++]!;
    const d: Directive = { name: name.text.toLowerCase(), line: name.line };
    if (eat('=')) {
      d.value = [];
      while (peek() && !(peek()!.kind === 'punct' && (peek()!.text === ';' || peek()!.text === '}' || peek()!.text === '{'))) d.value.push(toks[p++]!);
    }
    if (!eat(';')) warn(d.line, `missing ";" after ${name.text}`);
    return d;
  };

  const block = (what: string, line: number, onItem: (t: Tok) => void): void => {
    if (!eat('{')) {
      warn(line, `expected "{" after ${what}`);
      return;
    }
    for (;;) {
      const t = peek();
      if (!t) {
        warn(line, `${what} block is not closed with "}"`);
        return;
      }
      if (t.kind === 'punct' && t.text === '}') {
        p++;
        if (!eat(';')) warn(t.line, `missing ";" after the "}" closing ${what}`);
        return;
      }
      if (t.kind === 'punct') {
        warn(t.line, `unexpected "${t.text}"`);
        p++;
        continue;
      }
      onItem(t);
    }
  };

  const hosts: HostBlock[] = [];
  while (p < toks.length) {
    const t = toks[p]!;
    if (t.kind === 'word' && t.text.toUpperCase() === 'HOST') {
      p++;
      const h: HostBlock = { line: t.line, items: [], files: [] };
      block('HOST', t.line, (it) => {
        if (it.kind === 'word' && it.text.toUpperCase() === 'FILE') {
          p++;
          const f: FileBlock = { line: it.line, items: [] };
          block('FILE', it.line, (fi) => {
            if (fi.kind === 'word' && fi.text.toUpperCase() === 'HOST') {
              warn(fi.line, 'HOST inside FILE: ignored');
              p++;
              return;
            }
            f.items.push(directive());
          });
          h.files.push(f);
        } else h.items.push(directive());
      });
      hosts.push(h);
    } else {
      warn(t.line, `unexpected "${t.text}" outside a HOST block: ignored`);
      p++;
      // skip a whole stray block
      if (peek()?.text === '{') {
        let depth = 0;
        do {
          const x = toks[p++]!;
          if (x.text === '{') depth++;
          else if (x.text === '}') depth--;
        } while (p < toks.length && depth > 0);
        eat(';');
      }
    }
  }
  void lastLine;
  return hosts;
}

function parseNumber(tok: Tok | undefined): number | undefined {
  if (!tok || tok.kind !== 'word') return undefined;
  const s = tok.text;
  if (/^0x[0-9a-f]+$/i.test(s)) return parseInt(s, 16);
  if (/^[0-9]+$/.test(s)) return parseInt(s, 10);
  return undefined;
}

const MAC_RE = /^[0-9a-f]{1,2}(:[0-9a-f]{1,2}){5}$/i;


const hexScalar = (n: number): Scalar => {
  const s = new Scalar(n);
  s.format = 'HEX';
  return s;
};

interface ImageOut {
  files: Array<Record<string, unknown>>;
  execute: number;
  frame_size?: number;
  block_size?: number;
  pacing_us?: number;
}

export function importRpld(text: string, file: string): ImportResult {
  const warnings: ImportWarning[] = [];
  const warn = (line: number, message: string): void => void warnings.push({ line, message });
  const hosts = parse(tokenize(text, warn), warn);
  const out = new Map<string, { image: ImageOut; line: number }>();
  let wildcard = false;

  for (const h of hosts) {
    let key: string | undefined;
    let execute: number | undefined;
    const image: Omit<ImageOut, 'files' | 'execute'> = {};
    for (const d of h.items) {
      const v = d.value;
      const num = () => {
        const n = v && v.length === 1 ? parseNumber(v[0]) : undefined;
        if (n === undefined) warn(d.line, `${d.name}: expected a number (decimal or 0x hex)`);
        return n;
      };
      switch (d.name) {
        case 'ethernet': {
          const macTok = v?.[0];
          if (!macTok || macTok.kind !== 'word' || !MAC_RE.test(macTok.text)) {
            warn(d.line, 'ethernet: expected a MAC like 00:60:6e:33:4f:2c or MAC/N');
            break;
          }
          const mac = normalizeMac(macTok.text);
          let bits = 48;
          if (v!.length > 1) {
            const n = v!.length === 3 && v![1]!.text === '/' ? parseNumber(v![2]) : undefined;
            if (n === undefined || n > 6) {
              warn(d.line, 'ethernet: the mask after "/" must be a byte count 0..6');
              break;
            }
            if (mac === '00:00:00:00:00:00' && n === 6) {
              // docs/rpl.md §9: what ipxe.org and the etherboot wiki use to mean "every client"
              bits = 0;
              wildcard = true;
              warn(d.line, 'ethernet = 00:00:00:00:00:00/6 is rpld\'s catch-all idiom: imported as 00:00:00:00:00:00/0 (every client); in lanboot that host also matches every DHCP client');
            } else {
              bits = n * 8; // rpld's /N counts leading bytes; lanboot's /N counts bits
              if (mac === '00:00:00:00:00:00' && n > 0) {
                warn(d.line, `ethernet = 00:00:00:00:00:00/${n} matches only MACs starting with ${n} zero byte(s); write 00:00:00:00:00:00/0 in lanboot for every client`);
              }
            }
          }
          const masked = maskMac(mac, bits);
          key = bits === 48 ? masked : `${masked}/${bits}`;
          break;
        }
        case 'execute':
          execute = num();
          break;
        case 'framesize': {
          const n = num();
          if (n === undefined) break;
          const c = Math.min(1500, Math.max(128, n));
          if (c !== n) warn(d.line, `framesize ${n} is outside lanboot's 128..1500: using ${c}`);
          image.frame_size = c;
          break;
        }
        case 'blocksize': {
          const n = num();
          if (n === undefined) break;
          let c = Math.min(1468, Math.max(16, n));
          if (c % 16) {
            c -= c % 16;
            warn(d.line, `blocksize ${n}: lanboot sends multiples of 16, using ${c}`);
          } else if (c !== n) warn(d.line, `blocksize ${n} is outside lanboot's 16..1468: using ${c}`);
          image.block_size = c;
          break;
        }
        case 'pacing': {
          const n = num();
          if (n === undefined) break;
          const c = Math.min(1_000_000, n);
          warn(d.line, `pacing ${n}: rpld's unit is undocumented; imported as ${c} microseconds between frames (pacing_us)`);
          image.pacing_us = c;
          break;
        }
        case 'nospew':
          warn(d.line, 'nospew: meaning undocumented, not carried over (lanboot paces frames; rpl.ack_every asks for acknowledgements)');
          break;
        default:
          warn(d.line, `unknown HOST directive "${d.name}": ignored`);
      }
    }

    const files: Array<Record<string, unknown>> = [];
    for (const f of h.files) {
      let path: string | undefined;
      let offset: number | undefined;
      let length: number | undefined;
      let load: number | undefined;
      for (const d of f.items) {
        const v = d.value;
        const num = () => {
          const n = v && v.length === 1 ? parseNumber(v[0]) : undefined;
          if (n === undefined) warn(d.line, `${d.name}: expected a number (decimal or 0x hex)`);
          return n;
        };
        switch (d.name) {
          case 'path':
            if (!v || v.length !== 1 || v[0]!.kind !== 'string') warn(d.line, 'path: expected a quoted string');
            else path = v[0]!.text;
            break;
          case 'offset':
            offset = num();
            break;
          case 'length':
            length = num();
            if (length === 0) {
              warn(d.line, 'length = 0: treated as "to the end of the file"');
              length = undefined;
            }
            break;
          case 'load':
            load = num();
            break;
          case 'linux':
            warn(d.line, 'linux: not supported (a real-mode RPL ROM cannot boot a bzImage); the file is sent as plain data — serve iPXE (ipxe.pxe at 0x7c00) and boot Linux from its script instead');
            break;
          default:
            warn(d.line, `unknown FILE directive "${d.name}": ignored`);
        }
      }
      if (path === undefined || load === undefined) {
        warn(f.line, `FILE without ${path === undefined ? 'path' : 'load'}: skipped`);
        continue;
      }
      if (!path.startsWith('/')) warn(f.line, `path "${path}" is relative: lanboot resolves it against the TFTP root (rpld used its working directory)`);
      const fo: Record<string, unknown> = { path };
      if (offset) fo.offset = offset;
      if (length !== undefined) fo.length = length;
      fo.load = hexScalar(load);
      files.push(fo);
    }

    if (!key) {
      warn(h.line, 'HOST without a valid ethernet: skipped');
      continue;
    }
    if (files.length === 0) {
      warn(h.line, `HOST ${key} has no usable FILE: skipped`);
      continue;
    }
    if (execute === undefined) {
      const first = (files[0]!.load as Scalar).value as number;
      warn(h.line, `HOST ${key} has no execute: using the first file's load address 0x${first.toString(16)}`);
      execute = first;
    }
    if (out.has(key)) {
      warn(h.line, `HOST ${key} repeats an earlier HOST (line ${out.get(key)!.line}): skipped (rpld takes the first match)`);
      continue;
    }
    out.set(key, { image: { files, execute, ...image }, line: h.line });
  }
  if (hosts.length === 0) warn(0, 'no HOST blocks found');

  // Settings every host shares become rpl: defaults.
  // rpld took its one interface from -i on the command line; lanboot needs it in the config.
  const rpl: Record<string, unknown> = { interfaces: ['eth0'] };
  warn(0, "rpld's interface came from its -i option, which is not in rpld.conf: rpl.interfaces is set to [eth0], change it to your LAN interface");
  const all = [...out.values()].map((e) => e.image);
  for (const [k, dk] of [
    ['frame_size', 'frame_size'],
    ['block_size', 'block_size'],
    ['pacing_us', 'pacing_us'],
  ] as const) {
    const vals = new Set(all.map((i) => i[k]));
    if (all.length > 0 && vals.size === 1 && !vals.has(undefined)) {
      rpl[dk] = all[0]![k];
      for (const i of all) delete i[k];
    }
  }
  // Hosts load before the fallback; order catch-alls last so exact hosts are seen first.
  const ordered = [...out.entries()].sort((a, b) => bitsOf(b[0]) - bitsOf(a[0]));
  const doc = new Document({
    rpl,
    hosts: Object.fromEntries(
      ordered.map(([k, e]) => [k, { rpl: { ...e.image, execute: hexScalar(e.image.execute) } }]),
    ),
  });
  const ifNode = doc.getIn(['rpl', 'interfaces'], true);
  if (isSeq(ifNode)) ifNode.flow = true;
  const hostsNode = doc.get('hosts', true);
  if (isMap(hostsNode)) {
    if (ordered.length === 0) hostsNode.flow = true;
    for (const item of hostsNode.items) {
      if (isPair(item) && isMap(item.value)) {
        const files = item.value.getIn(['rpl', 'files'], true);
        if (isSeq(files)) for (const f of files.items) if (isMap(f)) f.flow = true;
      }
    }
  }
  warnings.sort((a, b) => a.line - b.line);
  const header = [
    ` Imported from ${file} by \`lanboot import rpld\`.`,
    ' Check it with `lanboot check --config THIS_FILE` before use.',
  ];
  if (wildcard) header.push(' The catch-all host (…/0) also makes every DHCP client a known host.');
  if (warnings.length) {
    header.push(' Not carried over as written (rpld line: reason):');
    for (const w of warnings) header.push(`   ${w.line || '-'}: ${w.message}`);
  }
  doc.commentBefore = header.join('\n');
  return { yaml: doc.toString({ lineWidth: 0 }), warnings };
}

function bitsOf(key: string): number {
  const i = key.indexOf('/');
  return i < 0 ? 48 : Number(key.slice(i + 1));
}

/** Zero the bits past the prefix, so the key shows what is compared. */
function maskMac(mac: string, bits: number): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  for (let i = 0; i < 6; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    b[i] = b[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
