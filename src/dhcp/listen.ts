/**
 * Which interfaces DHCP serves with a packet socket, as dnsmasq decides it:
 *  - `interfaces` unset: every interface with an IPv4 address inside a
 *    configured subnet, or named by a subnet's `interface:` (dnsmasq without
 *    interface= answers on every interface it has a dhcp-range for); loopback
 *    never (no broadcast clients there: UDP serves it);
 *  - a list: those interfaces;
 *  - `[]`: none (UDP sockets only: loopback demos, unprivileged runs, relays).
 * `except_interfaces` wins over both, as dnsmasq's except-interface does.
 * Pure: the caller passes the interfaces it found (net/interfaces).
 */
import { inPrefix } from '../net/address.js';
import type { Ipv4Address } from '../net/interfaces.js';

export interface ListenRule {
  /** undefined: the dnsmasq rule above. */
  interfaces?: string[];
  except: string[];
  subnets: ReadonlyArray<{ subnet: string; network: string; prefix: number; interface?: string }>;
}

export interface FoundInterface {
  ifname: string;
  loopback: boolean;
  ipv4: Ipv4Address[];
}

/** Interface -> why it is served ("10.77.0.1/24 in 10.77.0.0/24"), in the order found. */
export function servedInterfaces(rule: ListenRule, found: readonly FoundInterface[]): Map<string, string> {
  const out = new Map<string, string>();
  const except = new Set(rule.except);
  if (rule.interfaces) {
    for (const i of rule.interfaces) if (!except.has(i)) out.set(i, 'listed in interfaces');
    return out;
  }
  for (const f of found) {
    if (f.loopback || except.has(f.ifname)) continue;
    const named = rule.subnets.find((s) => s.interface === f.ifname);
    if (named) {
      out.set(f.ifname, `named by subnet ${named.subnet}`);
      continue;
    }
    for (const a of f.ipv4) {
      const s = rule.subnets.find((x) => !x.interface && inPrefix(a.address, x.network, x.prefix));
      if (s) {
        out.set(f.ifname, `${a.address}/${a.prefix} in ${s.subnet}`);
        break;
      }
    }
  }
  return out;
}

/** How the rule reads, for logs and `lanboot check`. */
export function describeRule(rule: Pick<ListenRule, 'interfaces' | 'except'>): string {
  const except = rule.except.length ? ` except ${rule.except.join(', ')}` : '';
  if (!rule.interfaces) return `every interface with an address in dhcp.subnets${except}`;
  if (!rule.interfaces.length) return 'UDP sockets only (interfaces: [])';
  return `${rule.interfaces.join(', ')}${except}`;
}
