/**
 * Wiring for the app: lease store + service + transport, started together.
 *   const dhcp = await startDhcp(config, { plan: () => currentPlan, log, telemetry });
 *   dhcp.listening, dhcp.leaseViews(), dhcp.reload(next), await dhcp.stop()
 */
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import type { Telemetry } from '../telemetry.js';
import type { ClientFacts } from '../plan/types.js';
import type { Logger } from '../log.js';
import { limitLogs } from '../log-limit.js';
import { LeaseStore } from '../leases/store.js';
import { isWholeMac } from '../net/address.js';
import { DhcpTransport, RESCAN_MS } from './transport.js';
import { ownAddresses } from '../net/interfaces.js';
import type { FrameLink } from '../net/packet.js';
import { DhcpService, type DhcpPlan } from './service.js';

export interface DhcpHooks {
  plan: () => DhcpPlan;
  log: Logger;
  telemetry: Telemetry;
  /** Tests: FrameLinks instead of packet sockets. */
  openLink?: (ifname: string, protocol: number, ports: number[]) => FrameLink;
  /** Benchmarks only: skip fsync (never in production). */
  noSync?: boolean;
}

export interface LeaseViewLike {
  mac: string;
  ip: string;
  hostname?: string;
  state: string;
  expires?: number;
  subnet?: string;
}

export interface DhcpRunning {
  service: DhcpService;
  leases?: LeaseStore;
  transport: DhcpTransport;
  listening: Array<{ address: string; port?: number; detail?: string }>;
  macFor(ip: string): string | undefined;
  /** What the client at `ip` last told the DHCP service (arch, vendor class, MAC), while its lease lasts. */
  factsFor(ip: string): ClientFacts | undefined;
  ipFor(mac: string): string | undefined;
  leaseViews(): LeaseViewLike[];
  poolViews(): Array<{ subnet: string; size: number; used: number }>;
  reload(next: Config): void;
  stop(): Promise<void>;
}

/** Compaction check period; compaction also runs when the journal outgrows the state. */
const COMPACT_EVERY_MS = 10 * 60_000;

export function reservationsOf(config: Config): Array<{ ip: string; mac: string }> {
  return config.hosts.filter((h) => h.ip && isWholeMac(h.prefix_bits)).map((h) => ({ ip: h.ip!, mac: h.mac }));
}

export async function startDhcp(config: Config, hooks: DhcpHooks): Promise<DhcpRunning> {
  const dc = config.dhcp;
  if (!dc) throw new Error('dhcp is not enabled in the config');
  let leases: LeaseStore | undefined;
  if (dc.mode === 'authoritative') {
    leases = new LeaseStore({
      file: dc.lease_file || join(config.state_dir, 'leases.journal'),
      subnets: dc.subnets,
      reserved: reservationsOf(config),
      commitDelayMs: dc.commit_delay_ms,
      declineHoldMs: dc.decline_hold * 1000,
      noSync: hooks.noSync,
    });
    const r = await leases.open();
    hooks.log.info({ event: 'dhcp.journal', records: r.records, truncated_bytes: r.truncatedBytes, file: leases.journal.path }, 'lease journal loaded');
    if (r.skippedRegions > 0) {
      hooks.log.error(
        { event: 'dhcp.journal_damaged', records: r.records, skipped_bytes: r.skippedBytes, regions: r.skippedRegions, copy: r.damagedCopy, file: leases.journal.path },
        `lease journal damaged: ${r.skippedRegions} bad region(s), ${r.skippedBytes} bytes skipped, ${r.records} records kept; the damaged file is kept as ${r.damagedCopy}`,
      );
    }
  }
  // Never offer an address of this machine (any interface) or the advertised server:.
  let current = config;
  const refreshOwn = () => {
    try {
      const own = ownAddresses();
      if (current.server) own.push(current.server);
      if (current.dhcp && current.dhcp.address !== '0.0.0.0') own.push(current.dhcp.address);
      leases?.setOwnAddresses(own);
    } catch (e) {
      hooks.log.warn({ event: 'dhcp.scan_error', err: (e as Error).message }, 'cannot list this machine\'s addresses');
    }
  };
  refreshOwn();
  const ownTimer = leases ? setInterval(refreshOwn, RESCAN_MS) : undefined;
  ownTimer?.unref();
  // Warnings a packet can trigger (a failing send, a handler error, a journal
  // write failing under a flood) are limited per event; counters count all.
  const log = limitLogs(hooks.log);
  let transport: DhcpTransport | undefined;
  const service = new DhcpService({
    config: dc,
    plan: hooks.plan,
    leases,
    telemetry: hooks.telemetry,
    log: hooks.log, // the service limits its own
    server: config.server,
    probe: (ip, ingress) => transport!.probe(ip, ingress),
  });
  transport = new DhcpTransport({
    config: dc,
    interfaces: config.interfaces,
    exceptInterfaces: config.except_interfaces,
    handler: (buf, ingress) => service.handleBuffer(buf, ingress),
    telemetry: hooks.telemetry,
    log,
    openLink: hooks.openLink,
  });
  let listening: Array<{ address: string; port?: number; detail?: string }>;
  try {
    listening = await transport.start();
  } catch (e) {
    clearInterval(ownTimer);
    await leases?.close();
    throw e;
  }
  const timer = leases
    ? setInterval(() => {
        leases!.compact().catch((e) => log.warn({ event: 'dhcp.compact_error', err: (e as Error).message }, 'compaction failed'));
      }, COMPACT_EVERY_MS)
    : undefined;
  timer?.unref();
  if (leases) {
    const store = leases;
    hooks.telemetry.gauge('lanboot_dhcp_pool_addresses', () =>
      store.pools.map((p) => ({ labels: { subnet: p.subnet.subnet }, value: store.usage(p).size })),
    );
    hooks.telemetry.gauge('lanboot_dhcp_pool_bound', () =>
      store.pools.map((p) => ({ labels: { subnet: p.subnet.subnet }, value: store.usage(p).bound })),
    );
    hooks.telemetry.gauge('lanboot_dhcp_journal_fsyncs', () => store.journal.syncs);
    hooks.telemetry.gauge('lanboot_dhcp_journal_commits', () => store.journal.commits);
  }

  const subnetOf = (ip: string): string | undefined => leases?.pools.find((p) => leases!.inSubnet(p, ip))?.subnet.subnet;
  return {
    service,
    leases,
    transport,
    listening,
    macFor: (ip) => leases?.leaseAt(ip)?.mac,
    factsFor: (ip) => service.factsFor(ip),
    ipFor: (mac) => {
      const m = mac.toLowerCase();
      let best: { ip: string; expires: number } | undefined;
      for (const l of leases?.all() ?? []) {
        if (l.mac === m && l.state === 'bound' && (!best || l.expires > best.expires)) best = l;
      }
      return best && best.expires > Date.now() ? best.ip : undefined;
    },
    leaseViews: () => {
      const now = Date.now();
      return (leases?.all() ?? [])
        // A quarantine or an offer that ran out is history, not a lease.
        .filter((l) => (l.state !== 'declined' && l.state !== 'offered') || l.expires > now)
        .map((l) => ({
          mac: l.mac,
          ip: l.ip,
          hostname: l.hostname,
          state: l.state === 'bound' && l.expires <= now ? 'expired' : l.state === 'free' ? 'released' : l.state,
          expires: l.expires,
          subnet: subnetOf(l.ip),
        }));
    },
    poolViews: () => (leases ? leases.pools.map((p) => ({ subnet: p.subnet.subnet, size: leases!.usage(p).size, used: leases!.usage(p).bound })) : []),
    reload: (next) => {
      // Options, boot policy, static hosts, subnets and ranges apply to the next request.
      if (next.dhcp) {
        service.setConfig(next.dhcp, next.server);
        transport!.setConfig(next.dhcp);
      }
      leases?.setReserved(reservationsOf(next));
      current = next;
      refreshOwn();
    },
    stop: async () => {
      if (timer) clearInterval(timer);
      clearInterval(ownTimer);
      await transport!.stop();
      await leases?.close();
    },
  };
}
