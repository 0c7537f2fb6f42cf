/**
 * What the admin server shows, as plain JSON-able views. Services supply them
 * through the small provider object handed to AdminServer; the admin code never
 * reaches into a service's internals, so a service only has to map its own
 * state onto these shapes (all times are ms since the epoch).
 */
import type { Telemetry } from '../telemetry.js';

import type { LeaseView, PoolView, RplLoadView, TransferView } from '../views.js';

export type { LeaseView, PoolView, RplLoadView, TransferView } from '../views.js';

/** The data sources the admin server reads; every one but telemetry is optional. */
export interface AdminProviders {
  telemetry: Telemetry;
  leases?(): LeaseView[];
  transfers?(): TransferView[];
  rplLoads?(): RplLoadView[];
  pools?(): PoolView[];
  /** The configured name of a host entry (exact MAC), shown before anything the client calls itself. */
  hostName?(mac: string): string | undefined;
}
