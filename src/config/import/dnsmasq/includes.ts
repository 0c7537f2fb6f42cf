/**
 * Stage 2: included files spliced in where they are included, as dnsmasq
 * reads them: conf-file, conf-dir (its .ext / *.ext filters; hidden, ~ and
 * #...# files skipped; names sorted), dhcp-hostsfile/-hostsdir and
 * dhcp-optsfile/-optsdir (lines of dhcp-host / dhcp-option without "name=").
 * Included lines get positions past the main file's last line; `where` maps
 * them back to file:line for warnings. Pure: files come through the reader.
 */
import path from 'node:path';
import { parseDnsmasq, splitArgs, type Directive } from './parse.js';
import type { ImportWarning } from '../types.js';

/** File access for included files; throws like fs does. */
export interface IncludeReader {
  read(file: string): string;
  /** Names (not paths) in a directory. */
  list(dir: string): string[];
}

export type Where = Map<number, { file: string; line: number }>;

/** Options whose files hold lines of another option without its "name=". */
const LINE_FILES: Record<string, string> = {
  'dhcp-hostsfile': 'dhcp-host',
  'dhcp-hostsdir': 'dhcp-host',
  'dhcp-optsfile': 'dhcp-option',
  'dhcp-optsdir': 'dhcp-option',
};
const MAX_INCLUDE_DEPTH = 8;

export function expandIncludes(
  dirs: Directive[],
  base: string,
  io: IncludeReader,
  where: Where,
  warnings: ImportWarning[],
  next: { pos: number },
  stack: string[] = [path.resolve(base)],
): Directive[] {
  const out: Directive[] = [];
  for (const d of dirs) {
    const kind = d.key === 'conf-file' || d.key === 'conf-dir' ? 'conf' : LINE_FILES[d.key] ? 'lines' : undefined;
    if (!kind || !d.value) {
      out.push(d);
      continue;
    }
    // dnsmasq resolves relative paths against its working directory; the including file's
    // directory is the better guess for a file being imported elsewhere.
    const target = path.resolve(path.dirname(base), d.args[0] ?? '');
    const isDir = d.key === 'conf-dir' || d.key.endsWith('dir');
    let files: string[];
    try {
      files = isDir ? pickDirFiles(target, d.key === 'conf-dir' ? d.args.slice(1) : [], io) : [target];
    } catch (e) {
      warnings.push({ line: d.line, message: `${d.key}=${d.value}: cannot read (${(e as Error).message}); not carried over` });
      continue;
    }
    for (const f of files) {
      if (stack.includes(f) || stack.length >= MAX_INCLUDE_DEPTH) {
        warnings.push({ line: d.line, message: `${d.key}: ${f} includes itself or nests too deep; not read again` });
        continue;
      }
      let text: string;
      try {
        text = io.read(f);
      } catch (e) {
        warnings.push({ line: d.line, message: `${d.key}: cannot read ${f} (${(e as Error).message}); not carried over` });
        continue;
      }
      const inner =
        kind === 'conf'
          ? parseDnsmasq(text)
          : parseDnsmasq(text).map((x) => {
              const value = [x.key, x.value].filter((v) => v !== undefined).join('=');
              return { line: x.line, key: LINE_FILES[d.key]!, value, args: splitArgs(value) };
            });
      const placed = inner.map((x) => {
        const pos = next.pos++;
        where.set(pos, { file: f, line: x.line });
        return { ...x, line: pos };
      });
      out.push(...(kind === 'conf' ? expandIncludes(placed, f, io, where, warnings, next, [...stack, f]) : placed));
    }
  }
  return out;
}

/** conf-dir=DIR[,.ext-to-skip...][,*.ext-to-take...], as dnsmasq filters it; sorted by name. */
export function pickDirFiles(dir: string, filters: string[], io: IncludeReader): string[] {
  const take = filters.filter((f) => f.startsWith('*')).map((f) => f.slice(1));
  const skip = filters.filter((f) => !f.startsWith('*'));
  return io
    .list(dir)
    .filter((n) => !n.startsWith('.') && !n.endsWith('~') && !(n.startsWith('#') && n.endsWith('#')))
    .filter((n) => (take.length ? take.some((t) => n.endsWith(t)) : true) && !skip.some((x) => n.endsWith(x)))
    .sort()
    .map((n) => path.join(dir, n));
}
