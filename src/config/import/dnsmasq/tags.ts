/**
 * Stage 4: the tags dnsmasq gives one client, in rfc2131.c's order: the
 * interface name, dhcp-mac, dhcp-match (match_bytes()), dhcp-userclass and
 * -vendorclass (substrings), "known" and the host's own set: tags, the
 * range's tag; then every tag-if once, in file order (run_tag_if()).
 */
import type { Cond, Host, Model, Range } from './model.js';

/** A DHCP request as the client sends it. */
export interface ClientRequest {
  mac: string;
  options: Map<number, Buffer>;
}

export interface TagContext {
  iface?: string;
  range?: Range;
  host?: Host;
}

/** match_bytes(): hex is left-anchored with wildcards; text and numbers are found anywhere (numbers element-wise). */
export function matchBytes(value: { bytes: Buffer; hex: boolean; wildcard: boolean[]; step: number } | undefined, data: Buffer): boolean {
  if (!value) return true;
  const v = value.bytes;
  if (v.length > data.length) return false;
  if (v.length === 0) return true;
  if (value.hex) return [...v].every((b, i) => value.wildcard[i] || data[i] === b);
  for (let i = 0; i + v.length <= data.length; i += value.step) if (data.subarray(i, i + v.length).equals(v)) return true;
  return false;
}

/** RFC 3004 user classes are length-prefixed; dnsmasq zeroes the counts before matching, when they add up. */
function userClassData(v: Buffer): Buffer {
  let j = 0;
  while (j < v.length) j += v[j]! + 1;
  if (j !== v.length) return v;
  const out = Buffer.from(v);
  for (let k = 0; k < out.length; k += v[k]! + 1) out[k] = 0;
  return out;
}

export function baseTags(m: Model, c: ClientRequest, ctx: TagContext): string[] {
  const tags: string[] = [];
  if (ctx.iface) tags.push(ctx.iface);
  const mac = c.mac.split(':').map((x) => parseInt(x, 16));
  for (const t of m.macTags) if (t.bytes.every((b, i) => b === null || b === mac[i])) tags.push(t.tag);
  for (const t of m.matches) {
    const data = c.options.get(t.code);
    if (data && data.length > 0 && matchBytes(t.value, data)) tags.push(t.tag);
  }
  for (const t of m.classes) {
    const raw = c.options.get(t.kind === 'user' ? 77 : 60);
    if (!raw) continue;
    const data = t.kind === 'user' ? userClassData(raw) : raw;
    if (data.includes(t.data)) tags.push(t.tag);
  }
  if (ctx.host) tags.push('known', ...ctx.host.sets);
  if (ctx.range?.tag) tags.push(ctx.range.tag);
  return tags;
}

/** run_tag_if(): each tag-if once, in file order; its conditions may end in '*'. */
export function runTagIf(m: Model, tags: string[]): Set<string> {
  const out = new Set(tags);
  for (const t of m.tagIfs) if (matchWild(t.conds, out)) for (const s of t.sets) out.add(s);
  return out;
}

function matchWild(conds: Cond[], tags: Set<string>): boolean {
  const has = (name: string) => (name.endsWith('*') ? [...tags].some((t) => t.startsWith(name.slice(0, -1))) : tags.has(name));
  return conds.every((c) => has(c.name) !== c.neg);
}

/** match_netid(): every condition holds; no conditions match only when tagNotNeeded. */
export function matchNetid(conds: Cond[], tags: Set<string>, tagNotNeeded: boolean): boolean {
  if (conds.length === 0) return tagNotNeeded;
  return conds.every((c) => tags.has(c.name) !== c.neg);
}

export function clientTags(m: Model, c: ClientRequest, ctx: TagContext): Set<string> {
  return runTagIf(m, baseTags(m, c, ctx));
}
