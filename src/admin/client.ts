/**
 * The CLI side of the admin API: `lanboot leases` / `lanboot hosts` ask the
 * running instance instead of reading another room's files.
 */
import type { AdminConfig } from '../config/types.js';
import type { LeaseView } from './views.js';
import type { MachineView } from './timeline.js';

export class AdminUnreachable extends Error {}

function baseUrl(cfg: AdminConfig): string {
  // A wildcard bind is reached over loopback.
  const host = cfg.address === '0.0.0.0' ? '127.0.0.1' : cfg.address;
  return `http://${host}:${cfg.port}`;
}

export async function adminGet<T>(cfg: AdminConfig, path: string, timeoutMs = 3000): Promise<T> {
  const url = baseUrl(cfg) + path;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new AdminUnreachable(`lanboot is not answering on ${baseUrl(cfg)} (is it running with admin enabled?): ${(e as Error).message}`);
  }
  if (!res.ok) throw new AdminUnreachable(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

export async function fetchLeases(cfg: AdminConfig): Promise<LeaseView[]> {
  return (await adminGet<{ leases: LeaseView[] }>(cfg, '/api/leases')).leases;
}

export async function fetchMachines(cfg: AdminConfig): Promise<MachineView[]> {
  return (await adminGet<{ machines: MachineView[] }>(cfg, '/api/machines')).machines;
}
