import { EdgebootError } from '../../core/errors.js';

/**
 * Why talking to the region failed; each has its own log line and health state.
 * `unauthorized` is 401/403 (token not accepted for this cluster), `unknown-cluster` is 404, `helper` is this
 * appliance's own snapshot helper process failing to start or dying (region-fetcher.ts).
 */
export type RegionFailure = 'unreachable' | 'tls' | 'unauthorized' | 'unknown-cluster' | 'malformed' | 'http' | 'credentials' | 'helper';

/** An E_REGION error that says which kind of failure it was. */
export class RegionError extends EdgebootError {
  readonly failure: RegionFailure;
  readonly status: number | undefined;

  constructor(failure: RegionFailure, message: string, options: { cause?: unknown; status?: number } = {}) {
    super('E_REGION', message, { cause: options.cause });
    this.failure = failure;
    this.status = options.status;
  }
}

// Node/OpenSSL codes of certificate and handshake failures (as opposed to the network being down).
const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME|ALTNAME|^EPROTO$/;

/** Classify a socket-level error: a TLS handshake/certificate problem or an unreachable region. */
export function classifyNetworkError(err: unknown): 'tls' | 'unreachable' {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TLS_CODES.test(code)) return 'tls';
  const msg = err instanceof Error ? err.message : '';
  return /certificate|handshake|ssl|tls/i.test(msg) ? 'tls' : 'unreachable';
}

/** The failure an HTTP status means, or undefined for success. */
export function classifyStatus(status: number): RegionFailure | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 304) return undefined;
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'unknown-cluster';
  return 'http';
}

/** The one log line per failure kind: fixed text, so operators can grep for it and it is logged once. */
export const FAILURE_LINES: Record<RegionFailure, string> = {
  unreachable: 'region unreachable; serving the last good snapshot and retrying with backoff',
  tls: 'region TLS handshake failed (check region.url and region.ca_file); retrying with backoff',
  unauthorized: 'region refused this cluster (HTTP 401/403: token not accepted); retrying with backoff',
  'unknown-cluster': 'region does not know this cluster (HTTP 404: check region.cluster_id); retrying with backoff',
  malformed: 'region sent a malformed snapshot; rejected whole, keeping the last good snapshot',
  http: 'region answered with an HTTP error; retrying with backoff',
  credentials: 'region token or CA file cannot be used; retrying with backoff',
  helper: 'the region helper process cannot run (see the error); retrying with backoff',
};

/**
 * Exponential backoff with jitter ("equal jitter": half fixed, half random), so many racks coming back
 * after a region outage do not arrive in lock-step.
 */
export function backoffMs(attempt: number, options: { baseMs?: number; maxMs?: number; random?: () => number } = {}): number {
  const base = options.baseMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (options.random ?? Math.random)() * (ceiling / 2));
}
