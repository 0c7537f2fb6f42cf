import type { UserClassRule } from '../config/types.js';
import type { ClientFacts } from './types.js';

export interface IpxeVerdict {
  ipxe: boolean;
  why: string;
  tag?: string;
}

/**
 * Is this request from iPXE? Decided before anything about the firmware
 * (an arch branch that fires first hands iPXE its own binary again: a loop).
 *  1. a per-host override wins;
 *  2. a user-class (77) is the client's explicit word about itself: the first
 *     rule matching one of its strings decides; "iPXE" counts when no rule
 *     names it; any other string without a rule = not iPXE;
 *  3. no user-class but option 175 present = iPXE (FlexBoot and other forks
 *     send no user-class);
 *  4. otherwise not iPXE.
 */
export function detectIpxe(f: ClientFacts, rules: UserClassRule[], hostOverride?: boolean): IpxeVerdict {
  if (hostOverride !== undefined) return { ipxe: hostOverride, why: `host entry says ipxe: ${hostOverride}` };
  const classes = f.userClasses ?? [];
  if (classes.length > 0) {
    for (const rule of rules) {
      if (classes.includes(rule.match)) {
        return { ipxe: rule.ipxe, why: `user-class "${rule.match}" matches a rule (ipxe: ${rule.ipxe})`, tag: rule.tag };
      }
    }
    // iPXE's own name always counts unless a rule above said otherwise: adding a
    // rule for gPXE must not turn real iPXE into a boot loop.
    if (classes.includes('iPXE')) return { ipxe: true, why: 'user-class "iPXE" (built-in rule)' };
    return { ipxe: false, why: `user-class ${classes.map((c) => `"${c}"`).join(',')} matches no iPXE rule` };
  }
  if (f.ipxeOptions) return { ipxe: true, why: 'option 175 present without a user-class' };
  return { ipxe: false, why: 'no user-class, no option 175' };
}
