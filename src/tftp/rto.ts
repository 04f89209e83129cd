/**
 * Retransmission timeout bounds (RFC 6298 §2): a 200 ms floor, as TCP's, so a CPU-starved client is not fed
 * spurious repeats. `oackMs` is the least an OACK waits for ACK 0: no round trip has been measured yet, and
 * some clients (atftp) abort on a second OACK, so it is tftpd-hpa's retransmission interval and RFC 2349's
 * smallest timeout (1 s), never a guess from the initial RTO.
 */
export const RTO = { initialMs: 500, minMs: 200, maxMs: 4000, oackMs: 1000 } as const;

/** The retransmission timeout of one transfer: RFC 6298 §2 smoothed RTT and variance, doubled per timeout (§5.5). */
export class RtoEstimator {
  #rto: number;
  #srtt = -1;
  #rttvar = 0;

  /** `maxMs`: the client's RFC 2349 timeout when it gave one, which we never wait past. */
  constructor(readonly maxMs: number = RTO.maxMs) {
    this.#rto = Math.min(RTO.initialMs, maxMs);
  }

  /** The current timeout in ms. */
  get ms(): number {
    return this.#rto;
  }

  /** Wait at least `ms` (never past `maxMs`) until a sample or a backoff says otherwise. */
  atLeast(ms: number): void {
    this.#rto = Math.max(this.#rto, Math.min(ms, this.maxMs));
  }

  /** Feed one round-trip sample (never from a retransmitted packet: Karn's rule). */
  sample(rttMs: number): void {
    if (this.#srtt < 0) {
      this.#srtt = rttMs;
      this.#rttvar = rttMs / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - rttMs);
      this.#srtt = 0.875 * this.#srtt + 0.125 * rttMs;
    }
    this.#rto = Math.min(this.maxMs, Math.max(RTO.minMs, this.#srtt + 4 * this.#rttvar));
  }

  /** A timeout happened: back off. */
  backoff(): void {
    this.#rto = Math.min(this.#rto * 2, this.maxMs);
  }
}
