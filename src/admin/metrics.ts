/**
 * Prometheus text exposition format 0.0.4 from telemetry counters and gauges
 * plus what the providers report (active transfers, RPL loads, leases, pools).
 */
import type { AdminProviders } from './views.js';

type Labels = Record<string, string | number>;

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function metricName(n: string): string {
  const s = n.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[a-zA-Z_:]/.test(s) ? s : `_${s}`;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelStr(l: Labels): string {
  const keys = Object.keys(l);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${metricName(k)}="${escapeLabel(String(l[k]))}"`).join(',')}}`;
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

class Family {
  readonly samples: Array<{ labels: Labels; value: number }> = [];
  constructor(
    readonly name: string,
    readonly type: 'counter' | 'gauge',
    readonly help: string,
  ) {}
}

export function renderMetrics(p: AdminProviders, startedAt: number, now = Date.now()): string {
  const fams = new Map<string, Family>();
  const fam = (name: string, type: 'counter' | 'gauge', help: string): Family => {
    const n = metricName(name);
    let f = fams.get(n);
    if (!f) fams.set(n, (f = new Family(n, type, help)));
    return f;
  };

  fam('lanboot_up', 'gauge', 'The lanboot process is running.').samples.push({ labels: {}, value: 1 });
  fam('lanboot_start_time_seconds', 'gauge', 'Start time of the admin server, seconds since the epoch.').samples.push({
    labels: {},
    value: Math.floor(startedAt / 1000),
  });
  const mem = process.memoryUsage();
  fam('process_resident_memory_bytes', 'gauge', 'Resident set size.').samples.push({ labels: {}, value: mem.rss });
  fam('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use.').samples.push({ labels: {}, value: mem.heapUsed });

  for (const c of p.telemetry.counters.values()) {
    fam(c.name, 'counter', `Counted by lanboot (${c.name}).`).samples.push({ labels: c.labels, value: c.value });
  }
  for (const [name, read] of p.telemetry.gauges) {
    let v: ReturnType<typeof read>;
    try {
      v = read();
    } catch {
      continue; // a broken gauge must not break the scrape
    }
    const f = fam(name, 'gauge', `Gauge reported by lanboot (${name}).`);
    if (typeof v === 'number') f.samples.push({ labels: {}, value: v });
    else for (const s of v) f.samples.push(s);
  }

  if (p.transfers) {
    const t = safe(p.transfers) ?? [];
    fam('lanboot_tftp_transfers_active', 'gauge', 'TFTP transfers in flight.').samples.push({ labels: {}, value: t.length });
    fam('lanboot_tftp_transfer_bytes_in_flight', 'gauge', 'Bytes acknowledged so far by transfers in flight.').samples.push({
      labels: {},
      value: t.reduce((a, x) => a + x.bytes, 0),
    });
  }
  if (p.rplLoads) {
    const r = safe(p.rplLoads) ?? [];
    fam('lanboot_rpl_loads_active', 'gauge', 'RPL image loads in flight.').samples.push({ labels: {}, value: r.length });
  }
  if (p.leases) {
    const leases = safe(p.leases) ?? [];
    const byState = new Map<string, number>();
    for (const l of leases) if (l.expires === undefined || l.expires > now) byState.set(l.state, (byState.get(l.state) ?? 0) + 1);
    const f = fam('lanboot_dhcp_leases', 'gauge', 'Unexpired leases by state.');
    for (const [state, n] of byState) f.samples.push({ labels: { state }, value: n });
  }
  if (p.pools) {
    const pools = safe(p.pools) ?? [];
    const size = fam('lanboot_dhcp_pool_size', 'gauge', 'Addresses in the dynamic range.');
    const used = fam('lanboot_dhcp_pool_used', 'gauge', 'Addresses of the range offered or bound.');
    const ratio = fam('lanboot_dhcp_pool_usage_ratio', 'gauge', 'used / size of the dynamic range.');
    for (const pl of pools) {
      size.samples.push({ labels: { subnet: pl.subnet }, value: pl.size });
      used.samples.push({ labels: { subnet: pl.subnet }, value: pl.used });
      ratio.samples.push({ labels: { subnet: pl.subnet }, value: pl.size > 0 ? pl.used / pl.size : 0 });
    }
  }

  const out: string[] = [];
  for (const f of [...fams.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    out.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) out.push(`${f.name}${labelStr(s.labels)} ${num(s.value)}`);
  }
  return out.join('\n') + '\n';
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
