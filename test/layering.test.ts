/**
 * Which folder may import which: arrows point one way (services -> plan,
 * codec, net; plan -> config), and app.ts is the only place services meet.
 * A failure lists every offending import as "file -> imported file".
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const root = join(import.meta.dirname, '..');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(join(root, dir))) {
    const p = join(dir, n);
    if (statSync(join(root, p)).isDirectory()) out.push(...sourceFiles(p));
    else if (n.endsWith('.ts')) out.push(p);
  }
  return out;
}

interface Edge {
  from: string;
  to: string;
  /** `import type` / `export type`: erased at compile time. */
  typeOnly: boolean;
}

/** Every module a file imports (static, re-export, dynamic), relative ones resolved to src/... paths. */
function importsOf(from: string): Edge[] {
  const text = readFileSync(join(root, from), 'utf8');
  const found = [
    ...[...text.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^;]*?\bfrom\s*'([^']+)'/gms)].map((m) => ({ spec: m[2]!, typeOnly: !!m[1] })),
    ...[...text.matchAll(/\bimport\s*\(\s*'([^']+)'\s*\)/g)].map((m) => ({ spec: m[1]!, typeOnly: false })),
    ...[...text.matchAll(/^\s*import\s+'([^']+)'/gm)].map((m) => ({ spec: m[1]!, typeOnly: false })),
  ];
  return found.map(({ spec, typeOnly }) => ({
    from,
    to: spec.startsWith('.') ? normalize(join(dirname(from), spec)).replace(/\.js$/, '.ts') : spec,
    typeOnly,
  }));
}

const files = sourceFiles('src');
const edges = files.flatMap(importsOf);

/** The top-level room of a src path: 'src/dhcp/x.ts' -> 'dhcp', 'src/app.ts' -> 'app.ts'. */
const room = (p: string) => relative('src', p).split('/')[0]!;

const PROTOCOLS = ['dhcp', 'tftp', 'rpl', 'http'];
const SERVICES = [...PROTOCOLS, 'admin', 'hooks', 'leases'];

function offending(pred: (from: string, to: string) => boolean): string[] {
  return edges.filter((e) => e.to.startsWith('src/') && pred(e.from, e.to)).map((e) => `${e.from} -> ${e.to}`);
}

describe('layering', () => {
  it('finds the sources and their imports (the test itself works)', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(edges.some((e) => e.from === 'src/app.ts' && e.to === 'src/dhcp/run.ts')).toBe(true);
    expect(edges.some((e) => e.from === 'src/cli.ts' && e.to === 'src/app.ts')).toBe(true); // dynamic import
  });

  it('net/ imports no protocol, service, plan or config', () => {
    const banned = [...SERVICES, 'plan', 'config', 'codec', 'app.ts', 'cli.ts', 'check.ts'];
    expect(offending((f, t) => room(f) === 'net' && banned.includes(room(t)))).toEqual([]);
  });

  it('codec/ imports only codec/ and net/address (and node)', () => {
    expect(offending((f, t) => room(f) === 'codec' && room(t) !== 'codec' && t !== 'src/net/address.ts')).toEqual([]);
    const packages = edges.filter((e) => room(e.from) === 'codec' && !e.to.startsWith('src/') && !e.to.startsWith('node:'));
    expect(packages.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it('a protocol (dhcp, tftp, rpl, http) imports no other protocol', () => {
    expect(offending((f, t) => PROTOCOLS.includes(room(f)) && PROTOCOLS.includes(room(t)) && room(f) !== room(t))).toEqual([]);
  });

  it('nothing imports app.ts or cli.ts (cli.ts starts the app)', () => {
    expect(offending((f, t) => (t === 'src/app.ts' && f !== 'src/cli.ts') || t === 'src/cli.ts')).toEqual([]);
  });

  it('plan imports no service and no socket (net/address is vocabulary)', () => {
    expect(offending((f, t) => room(f) === 'plan' && [...SERVICES, 'net', 'app.ts', 'cli.ts'].includes(room(t)) && t !== 'src/net/address.ts')).toEqual([]);
  });

  it('only net/ (and tests) open sockets: no dgram or native addon elsewhere', () => {
    // The TFTP engine starts native transfers that own their socket; it reaches them through the addon, not dgram.
    // privileges.ts loads the addon for prctl (capability bounding set) and node-flags.ts for execv; neither opens a socket.
    const allowed = ['src/tftp/engine.ts', 'src/privileges.ts', 'src/node-flags.ts'];
    const sockets = edges.filter((e) => !e.typeOnly && (e.to === 'node:dgram' || e.to === 'src/native.ts') && room(e.from) !== 'net' && !allowed.includes(e.from));
    expect(sockets.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });
});
