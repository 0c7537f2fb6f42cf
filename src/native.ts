/**
 * Loads the native addons built by node-gyp at `npm ci` (native/build/Release).
 * Works from src (tsx, tests) and dist/src alike by finding the package root.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && JSON.parse(readFileSync(pj, 'utf8')).name === 'lanboot') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('lanboot package root not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** `name` = target name in native/binding.gyp. Throws with the fix when it is not built. */
export function loadNative<T>(name: string): T {
  const root = packageRoot();
  const file = join(root, 'native', 'build', 'Release', `${name}.node`);
  if (!existsSync(file)) throw new Error(`${file} is missing: build it with "npm ci" (or "npm run install")`);
  return createRequire(join(root, 'package.json'))(file) as T;
}
