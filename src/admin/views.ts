/**
 * What the admin server shows, as plain JSON-able views. Services supply them
 * through the small provider object handed to AdminServer; the admin code never
 * reaches into a service's internals, so a service only has to map its own
 * state onto these shapes (all times are ms since the epoch).
 */
import type { Telemetry } from '../telemetry.js';

export interface LeaseView {
  mac: string;
  ip: string;
  hostname?: string;
  /** 'offered' | 'bound' | 'expired' | 'released' | 'declined' | 'static' ... as the DHCP service names it. */
  state: string;
  /** When the lease (or offer) ends; absent = never (static reservation not in use). */
  expires?: number;
  /** When it was granted / last renewed. */
  start?: number;
  /** Subnet in CIDR form, for the pool-usage gauge. */
  subnet?: string;
}

export interface TransferView {
  /** Any stable id for the transfer (e.g. "10.77.0.10:2070"). */
  id: string;
  mac?: string;
  /** Client address and port. */
  peer: string;
  file: string;
  /** Bytes acknowledged so far. */
  bytes: number;
  /** Total size when known (tsize / stat). */
  size?: number;
  blksize?: number;
  windowsize?: number;
  started: number;
  retransmits?: number;
  /** 'read' (RRQ) or 'write' (WRQ). */
  direction?: 'read' | 'write';
}

export interface RplLoadView {
  mac: string;
  iface?: string;
  /** Image description, e.g. the first file's path. */
  file?: string;
  bytes: number;
  size: number;
  started: number;
  frameSize?: number;
  blockSize?: number;
}

export interface PoolView {
  /** CIDR */
  subnet: string;
  /** Addresses in the dynamic range. */
  size: number;
  /** Addresses currently offered or bound from the range. */
  used: number;
}

/** The data sources the admin server reads; every one but telemetry is optional. */
export interface AdminProviders {
  telemetry: Telemetry;
  leases?(): LeaseView[];
  transfers?(): TransferView[];
  rplLoads?(): RplLoadView[];
  pools?(): PoolView[];
}
