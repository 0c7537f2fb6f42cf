/**
 * `lanboot import dnsmasq FILE`: carry a dnsmasq.conf's netboot setup over to
 * lanboot YAML, answering the same clients the same way. dnsmasq expresses
 * policy with tags; lanboot has boot slots per kind of client. So instead of
 * translating line by line, the importer works out what dnsmasq answers each
 * kind of client lanboot tells apart, and writes those answers. Stages, one
 * file each under ./dnsmasq/:
 *   parse    lines -> directives
 *   includes conf-file, conf-dir, hosts/opts files spliced in place
 *   model    directives -> dnsmasq's tables (ranges, hosts, dhcp-boot, pxe-service, tag sources, options)
 *   tags     the tags one client gets (dhcp-match, classes, dhcp-mac, tag-if)
 *   answers  what dnsmasq answers one client (find_boot, options, PXE and proxy rules)
 *   emit     answers -> lanboot config, with a warning for what does not carry
 * Pure: included files are read through the IncludeReader the caller passes.
 */
import { Document, isMap, isPair, isSeq } from 'yaml';
import type { ImportResult, ImportWarning } from './types.js';
import { parseDnsmasq } from './dnsmasq/parse.js';
import { expandIncludes, type IncludeReader, type Where } from './dnsmasq/includes.js';
import { buildModel } from './dnsmasq/model.js';
import { emit } from './dnsmasq/emit.js';

export type { ImportResult, ImportWarning, IncludeReader };
export { parseDnsmasq };

export function importDnsmasq(text: string, file: string, include?: IncludeReader): ImportResult {
  const warnings: ImportWarning[] = [];
  const where: Where = new Map();
  const top = parseDnsmasq(text);
  const dirs = include ? expandIncludes(top, file, include, where, warnings, { pos: text.split(/\r?\n/).length + 1 }) : top;
  if (!include)
    for (const d of top)
      if (['conf-file', 'conf-dir', 'dhcp-hostsfile', 'dhcp-optsfile', 'dhcp-hostsdir', 'dhcp-optsdir'].includes(d.key))
        warnings.push({ line: d.line, message: `${d.key}=${d.value ?? ''}: included files are not read; import them too and merge by hand` });
  const model = buildModel(dirs, warnings);
  const { config, hostCount } = emit(model, warnings);
  return { yaml: toYaml(config, hostCount, file, warnings, where), warnings: locate(warnings, where) };
}

/** Included lines carry positions past the main file: give them back their file:line. */
function locate(warnings: ImportWarning[], where: Where): ImportWarning[] {
  return [...warnings]
    .sort((a, b) => a.line - b.line)
    .map((w) => {
      const at = where.get(w.line);
      return at ? { line: at.line, file: at.file, message: w.message } : w;
    });
}

function toYaml(out: Record<string, unknown>, hostCount: number, file: string, warnings: ImportWarning[], where: Where): string {
  const doc = new Document(out);
  // Hosts one line each, as the config is meant to be written; subnets and menu items too.
  const hostsNode = doc.get('hosts', true);
  if (isMap(hostsNode)) {
    if (hostCount === 0) hostsNode.flow = true;
    for (const item of hostsNode.items) if (isPair(item) && isMap(item.value)) item.value.flow = true;
  }
  for (const path of [['dhcp', 'subnets'], ['boot', 'menu'], ['dhcp', 'user_classes']]) {
    const seq = doc.getIn(path, true);
    if (isSeq(seq)) for (const s of seq.items) if (isMap(s)) s.flow = true;
  }
  for (const path of [['interfaces'], ['boot', 'prompt']]) {
    const n = doc.getIn(path, true);
    if (isSeq(n) || isMap(n)) n.flow = true;
  }
  const header = [` Imported from ${file} by \`lanboot import dnsmasq\`.`, ' Check it with `lanboot check --config THIS_FILE` before use.'];
  const located = locate(warnings, where);
  if (located.length) {
    header.push(' Not carried over, or answered differently (dnsmasq line: reason):');
    for (const w of located) header.push(`   ${w.file ? `${w.file}:` : ''}${w.line || '-'}: ${w.message}`);
  }
  doc.commentBefore = header.join('\n');
  return doc.toString({ lineWidth: 0 });
}
