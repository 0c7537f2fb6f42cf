/**
 * What services report about work in progress, as plain JSON-able views (all
 * times ms since the epoch). A leaf module: services and the admin page both
 * import it, so no service has to know the admin code and vice versa.
 */
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
