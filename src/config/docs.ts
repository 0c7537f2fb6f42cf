/**
 * The config key reference, generated from the schema's descriptions so the
 * README cannot drift from what the loader accepts.
 */
import { z } from 'zod';
import { root } from './schema.js';

export function schemaJson(): unknown {
  return z.toJSONSchema(root, {
    io: 'input',
    unrepresentable: 'any',
    // zod drops the default of a transforming schema in input mode (a duration's
    // 43200 is its output); the loader still fills it in, so the reference says it.
    override: ({ zodSchema, jsonSchema }) => {
      const def = zodSchema._zod.def;
      if (def.type === 'default' && jsonSchema.default === undefined) jsonSchema.default = JSON.parse(JSON.stringify(def.defaultValue)) as unknown;
    },
  });
}

interface Row {
  key: string;
  type: string;
  def: string;
  desc: string;
}

export function schemaMarkdown(): string {
  const rows: Row[] = [];
  walk(schemaJson() as JsonSchema, '', rows);
  const lines = ['| key | type | default | meaning |', '|---|---|---|---|'];
  for (const r of rows) lines.push(`| \`${r.key}\` | ${r.type} | ${r.def} | ${r.desc} |`);
  return lines.join('\n') + '\n';
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  prefixItems?: JsonSchema[];
  default?: unknown;
  description?: string;
  pattern?: string;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (s.const !== undefined) return `\`${String(s.const)}\``;
  if (s.anyOf) return [...new Set(s.anyOf.map((a) => (a.properties ? 'map' : typeOf(a))))].filter((t) => t !== 'null').join(' \\| ');
  if (s.prefixItems) return `[${s.prefixItems.map(typeOf).join(', ')}]`;
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`;
  if (Array.isArray(s.type)) return s.type.join(' \\| ');
  return s.type ?? 'any';
}

function objectOf(s: JsonSchema): JsonSchema | undefined {
  if (s.properties) return s;
  for (const a of s.anyOf ?? []) {
    const o = objectOf(a);
    if (o) return o;
  }
  return undefined;
}

function walk(s: JsonSchema, prefix: string, rows: Row[]): void {
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    const key = prefix + k;
    const def = v.default === undefined ? '' : `\`${JSON.stringify(v.default)}\``;
    const desc = v.description ?? v.anyOf?.find((a) => a.description)?.description ?? '';
    const obj = objectOf(v);
    const items = v.items && objectOf(v.items);
    const rec = typeof v.additionalProperties === 'object' ? objectOf(v.additionalProperties as JsonSchema) : undefined;
    // A map's default is its keys' defaults, listed below it; a list's is shown whole.
    rows.push({ key, type: obj ? typeOf(v.anyOf ? v : { anyOf: [v] }) : rec ? 'map by MAC' : typeOf(v), def: obj || rec ? '' : def, desc });
    if (obj) walk(obj, key + '.', rows);
    if (items) walk(items, key + '[].', rows);
    if (rec) walk(rec, key + '.<mac>.', rows);
  }
}
