import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { schemaMarkdown } from '../../src/config/docs.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { root } from '../../src/config/schema.js';
import { formatEvent } from '../../src/log-text.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The text of every fenced block of this kind, in order. */
function blocks(md: string, lang: string): string[] {
  return [...md.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].filter((m) => m[1] === lang).map((m) => m[2]!);
}

describe('config key reference', () => {
  it('in the README is exactly what the schema generates (regenerate with `lanboot schema`)', () => {
    expect(readme).toContain(schemaMarkdown());
  });
  it('documents every key with a meaning', () => {
    const rows = schemaMarkdown().split('\n').slice(2).filter(Boolean);
    expect(rows.length).toBeGreaterThan(80);
    const undocumented = rows.filter((r) => r.endsWith('|  |')).map((r) => r.split('|')[1]!.trim());
    expect(undocumented).toEqual([]);
  });
  it('shows every default the loader fills in (maps excepted: their keys show theirs)', () => {
    const shown = new Map(
      schemaMarkdown()
        .split('\n')
        .slice(2)
        .filter(Boolean)
        .map((r) => r.split(' | ').map((c) => c.replace(/^\| /, '')))
        .map(([key, type, def]) => [key!.replace(/`/g, ''), { type: type!, def: def!.replace(/`/g, '') }]),
    );
    const expected: Array<[string, string]> = [];
    // Walks the zod tree the way docs.ts walks its JSON Schema: a.b, a[].b, hosts.<mac>.b.
    const walk = (s: z.core.$ZodType, prefix: string): void => {
      const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
      if (def.type === 'object') {
        for (const [k, v] of Object.entries(def.shape as Record<string, z.core.$ZodType>)) {
          const d = v._zod.def as unknown as { type: string; defaultValue?: unknown };
          if (d.type === 'default' && !shown.get(prefix + k)?.type.includes('map')) expected.push([prefix + k, JSON.stringify(d.defaultValue)]);
          walk(v, prefix + k + '.');
        }
      } else if (def.type === 'array') walk(def.element as z.core.$ZodType, prefix.replace(/\.$/, '[].'));
      else if (def.type === 'record') walk(def.valueType as z.core.$ZodType, prefix + '<mac>.');
      else if (def.type === 'union') for (const o of def.options as z.core.$ZodType[]) walk(o, prefix);
      else if (def.type === 'pipe') walk(def.in as z.core.$ZodType, prefix);
      else if (['optional', 'nullable', 'default'].includes(def.type)) walk(def.innerType as z.core.$ZodType, prefix);
    };
    walk(root, '');
    expect(expected.length).toBeGreaterThan(40);
    expect(expected.filter(([key, value]) => shown.get(key)?.def !== value)).toEqual([]);
  });
});

describe('README examples', () => {
  // Users copy these as they are: an example the loader refuses is a broken promise.
  it('every yaml block loads', () => {
    const yaml = blocks(readme, 'yaml');
    expect(yaml.length).toBeGreaterThan(0);
    for (const y of yaml) expect(() => parseConfig(y, 'lanboot.yaml')).not.toThrow();
  });
  it('the refusal shown is what the loader says for the example with its two typos', () => {
    const example = blocks(readme, 'yaml')[0]!;
    const shown = blocks(readme, '').find((b) => b.includes('config refused'))!;
    const typos = example.replace('mode: authoritative ', 'mode: authoritativ  ').replace('name: pc01', 'nmae: pc01');
    let message = '';
    try {
      parseConfig(typos, 'lanboot.yaml');
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      message = e.message;
    }
    const lines = shown.trim().split('\n');
    expect(lines.pop()).toBe('lanboot.yaml: config refused, nothing started'); // src/cli.ts refuse()
    const said = message.split('\n');
    expect(said).toHaveLength(lines.length);
    lines.forEach((l, i) => expect(said[i]).toContain(l.replace(/, \.\.\.$/, '')));
  });
});

describe('README log example', () => {
  it('the DHCPACK shown as JSON is the text line shown above it', () => {
    const json = blocks(readme, 'json').find((b) => b.includes('"dhcp.ack"'))!;
    const text = blocks(readme, '').find((b) => b.includes('DHCPACK('))!;
    const line = formatEvent(JSON.parse(json) as Record<string, unknown>);
    expect(text.split('\n').map((l) => l.slice('2026-05-04 08:15:09.530 '.length))).toContain(line);
  });
});

describe('config keys named in the docs', () => {
  const ROOT = new URL('../../', import.meta.url).pathname;
  const srcText = (dir: string): string =>
    readdirSync(dir, { withFileTypes: true })
      .map((d) => (d.isDirectory() ? srcText(`${dir}/${d.name}`) : d.name.endsWith('.ts') ? readFileSync(`${dir}/${d.name}`, 'utf8') : ''))
      .join('\n');
  it('are keys of the schema (or, like dhcp.ack, event names the code logs)', () => {
    const keys = new Set(schemaMarkdown().split('\n').slice(2).filter(Boolean).map((r) => r.split(' | ')[0]!.replace(/^\| /, '').replace(/`/g, '')));
    const src = srcText(`${ROOT}src`);
    const docs = ['README.md', ...readdirSync(`${ROOT}docs`).map((f) => `docs/${f}`)];
    const unknown: string[] = [];
    for (const f of docs) {
      for (const m of readFileSync(`${ROOT}${f}`, 'utf8').matchAll(/`((?:dhcp|tftp|http|rpl|admin|boot|iscsi|log|hosts)\.[a-z_<>.\[\]0-9]+)`/g)) {
        const key = m[1]!.replace(/\[\d+\]/g, '[]');
        if (!keys.has(key) && !src.includes(`'${key}'`)) unknown.push(`${f}: ${m[1]}`);
      }
    }
    expect(unknown).toEqual([]);
  });
});

describe('README Layout', () => {
  const ROOT = new URL('../../', import.meta.url).pathname;
  const layout = readme.slice(readme.indexOf('## Layout')).match(/^```\n([\s\S]*?)^```$/m)![1]!;
  it('names every directory of src/ and every file at its top, and only ones that exist', () => {
    const named = [...layout.matchAll(/^  ([a-z]+)\/ /gm)].map((m) => m[1]!);
    const dirs = readdirSync(`${ROOT}src`, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(named.sort()).toEqual(dirs.sort());
    const files = readdirSync(`${ROOT}src`).filter((f) => f.endsWith('.ts'));
    expect(files.filter((f) => !new RegExp(`\\b${f.replace('.', '\\.')}\\b`).test(layout))).toEqual([]);
  });
  it('names top-level directories that exist', () => {
    const top = [...layout.matchAll(/^(\.?[a-z]+)\/ /gm)].map((m) => m[1]!);
    expect(top.length).toBeGreaterThan(5);
    expect(top.filter((d) => !existsSync(`${ROOT}${d}`))).toEqual([]);
  });
});
