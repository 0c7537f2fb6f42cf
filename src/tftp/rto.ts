/**
 * Retransmission timeout from measured round trips, RFC 6298 style
 * (SRTT/RTTVAR, Karn: no samples from retransmitted blocks, doubling backoff).
 */
export class RtoEstimator {
  private srtt = 0;
  private rttvar = 0;
  private sampled = false;
  private backoff = 1;
  rto: number;

  constructor(
    private readonly initialMs: number,
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    this.rto = initialMs;
  }

  sample(rttMs: number): void {
    if (!this.sampled) {
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
      this.sampled = true;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rttMs);
      this.srtt = 0.875 * this.srtt + 0.125 * rttMs;
    }
    this.backoff = 1;
    this.update();
  }

  /** A timeout fired: double until the ceiling. */
  timedOut(): void {
    this.backoff = Math.min(this.backoff * 2, 64);
    this.update();
  }

  /** Progress without a usable sample still ends the backoff. */
  progressed(): void {
    if (this.backoff !== 1) {
      this.backoff = 1;
      this.update();
    }
  }

  get smoothed(): number {
    return this.srtt;
  }

  private update(): void {
    const base = this.sampled ? this.srtt + Math.max(1, 4 * this.rttvar) : this.initialMs;
    this.rto = Math.min(this.maxMs, Math.max(this.minMs, base) * this.backoff);
  }
}
