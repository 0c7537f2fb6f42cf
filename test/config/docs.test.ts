import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { schemaMarkdown } from '../../src/config/docs.js';

describe('config key reference', () => {
  it('in the README is exactly what the schema generates (regenerate with `lanboot schema`)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(schemaMarkdown());
  });
  it('documents every key with a meaning', () => {
    const rows = schemaMarkdown().split('\n').slice(2).filter(Boolean);
    expect(rows.length).toBeGreaterThan(80);
    const undocumented = rows.filter((r) => r.endsWith('|  |')).map((r) => r.split('|')[1]!.trim());
    expect(undocumented).toEqual([]);
  });
});
