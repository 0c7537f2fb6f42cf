/**
 * Stage 1 of `lanboot import dnsmasq`: lines into directives, as dnsmasq's
 * option reader splits them ('#' starts a comment at a line start or after
 * whitespace, outside quotes; arguments split at commas outside quotes).
 */

export interface Directive {
  /** 1-based line; lines of included files get positions past the main file (see includes.ts). */
  line: number;
  key: string;
  /** undefined for flags without "=" */
  value?: string;
  args: string[];
}

/** Remove a comment: '#' at the start or after whitespace, outside quotes. */
export function stripComment(s: string): string {
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') quoted = !quoted;
    else if (c === '#' && !quoted && (i === 0 || /\s/.test(s[i - 1]!))) return s.slice(0, i);
  }
  return s;
}

/** Split at commas outside quotes; trim; drop surrounding quotes. */
export function splitArgs(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of v) {
    if (c === '"') {
      quoted = !quoted;
      cur += c;
    } else if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((a) => {
    const t = a.trim();
    return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
  });
}

export function parseDnsmasq(text: string): Directive[] {
  const out: Directive[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const s = stripComment(lines[i]!).trim();
    if (!s) continue;
    const body = s.replace(/^--/, '');
    const eq = body.indexOf('=');
    if (eq < 0) out.push({ line: i + 1, key: body.toLowerCase(), args: [] });
    else {
      const value = body.slice(eq + 1).trim();
      out.push({ line: i + 1, key: body.slice(0, eq).trim().toLowerCase(), value, args: splitArgs(value) });
    }
  }
  return out;
}
