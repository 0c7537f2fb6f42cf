import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');
const importsOf = (file: string) => [...readFileSync(join(root, file), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]!);

describe('DHCP layering (services -> plan, codec, io; nothing imports a service)', () => {
  it('src/io imports nothing from src/dhcp (Ingress/Reply live in io)', () => {
    for (const f of readdirSync(join(root, 'src/io')).filter((n) => n.endsWith('.ts'))) {
      expect(importsOf(`src/io/${f}`).filter((p) => p.includes('/dhcp/')), f).toEqual([]);
    }
  });
});
