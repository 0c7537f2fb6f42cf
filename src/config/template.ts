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

/** Expand; a variable without a value is an error naming it (never a silent empty string). */
export function expand(t: string, values: TemplateValues): string {
  return t.replace(TOKEN, (tok, name: string | undefined) => {
    if (tok === '{{') return '{';
    if (tok === '}}') return '}';
    const v = name === undefined ? undefined : values[name as TemplateVar];
    if (v === undefined) throw new TemplateError(`template "${t}" needs {${name}}, which is not known here`);
    return v;
  });
}
