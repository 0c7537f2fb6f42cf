/**
 * `{var}` templates: one host entry (MAC, name, ip) plus the server's address
 * derive every other per-host value. `{{` and `}}` stand for literal braces.
 */
export const TEMPLATE_VARS = [
  'name', // host name (host entry, else derived from the MAC)
  'mac', // 52:54:00:77:00:10
  'mac_hyphen', // 52-54-00-77-00-10 (pxelinux style)
  'mac_hex', // 525400770010
  'ip', // the host's address
  'server', // our address as the client sees it
  'http', // server[:port] of the HTTP service (port omitted when 80)
  'tftp', // server[:port] of the TFTP service (port omitted when 69)
  'iqn', // the host's initiator IQN (iscsi.initiator expanded)
  'target', // the host's target IQN (iscsi.target expanded)
] as const;

export type TemplateVar = (typeof TEMPLATE_VARS)[number];
export type TemplateValues = Partial<Record<TemplateVar, string>>;

const TOKEN = /\{\{|\}\}|\{([a-z_]*)\}|[{}]/g;

export function templateVariables(t: string): string[] {
  const out: string[] = [];
  for (const m of t.matchAll(TOKEN)) {
    if (m[0] === '{{' || m[0] === '}}') continue;
    if (m[1] === undefined) throw new Error(`unbalanced "${m[0]}" in template "${t}" (write {{ or }} for a literal brace)`);
    out.push(m[1]);
  }
  return out;
}

export class TemplateError extends Error {}

/**
 * A template split once into literal text (even indexes) and variable names
 * (odd indexes); undefined marks a lone brace. Templates come from the config
 * (a few per host at most), and the DHCP path expands one per request.
 */
type Compiled = Array<string | undefined>;
const compiled = new Map<string, Compiled>();
const COMPILED_MAX = 4096;

function compile(t: string): Compiled {
  let c = compiled.get(t);
  if (c) return c;
  c = [];
  let text = '';
  let last = 0;
  for (const m of t.matchAll(TOKEN)) {
    text += t.slice(last, m.index);
    last = m.index! + m[0].length;
    if (m[0] === '{{') text += '{';
    else if (m[0] === '}}') text += '}';
    else {
      c.push(text, m[1]);
      text = '';
    }
  }
  c.push(text + t.slice(last));
  if (compiled.size >= COMPILED_MAX) compiled.clear(); // templates built from input never pile up
  compiled.set(t, c);
  return c;
}

/** Expand; a variable without a value is an error naming it (never a silent empty string). */
export function expand(t: string, values: TemplateValues): string {
  const c = compile(t);
  let out = c[0]!;
  for (let i = 1; i < c.length; i += 2) {
    const name = c[i];
    const v = name === undefined ? undefined : values[name as TemplateVar];
    if (v === undefined) throw new TemplateError(`template "${t}" needs {${name}}, which is not known here`);
    out += v + c[i + 1]!;
  }
  return out;
}
