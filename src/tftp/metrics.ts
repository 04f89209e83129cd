import type { Counter, Histogram, MetricsRegistry } from '../core/metrics.js';

/** The Prometheus series the TFTP service keeps. */
export interface TftpMetrics {
  /** Finished transfers by outcome (ok, timeout, aborted, error, shutdown). */
  transfers: Counter;
  /** Datagrams that reached a listener (requests and noise alike). */
  received: Counter;
  /** Requests refused before a transfer started, by TFTP error code. */
  refused: Counter;
  /** DATA payload bytes put on the wire, retransmissions included. */
  bytes: Counter;
  /** ERROR packets sent, by TFTP error code. */
  errors: Counter;
  retransmits: Counter;
  /** Datagrams dropped unanswered, by reason. */
  dropped: Counter;
  duration: Histogram;
}

/** Register the TFTP series; `active` and `cached` are read at scrape time. */
export function tftpMetrics(reg: MetricsRegistry, active: () => number, cached: () => number): TftpMetrics {
  reg.gauge('edgeboot_tftp_active_transfers', 'TFTP transfers in progress.', active);
  reg.gauge('edgeboot_tftp_cache_bytes', 'Bytes of small boot files held in memory.', cached);
  return {
    transfers: reg.counter('edgeboot_tftp_transfers_total', 'Finished TFTP transfers by outcome.', ['outcome']),
    received: reg.counter('edgeboot_tftp_listener_datagrams_total', 'Datagrams received on the TFTP listeners.'),
    refused: reg.counter('edgeboot_tftp_refused_total', 'TFTP requests refused before a transfer started, by error code.', ['code']),
    bytes: reg.counter('edgeboot_tftp_bytes_sent_total', 'TFTP DATA payload bytes sent, retransmissions included.'),
    errors: reg.counter('edgeboot_tftp_errors_total', 'TFTP ERROR packets sent, by error code.', ['code']),
    retransmits: reg.counter('edgeboot_tftp_retransmits_total', 'TFTP DATA/OACK packets sent again after a timeout or a gap.'),
    dropped: reg.counter('edgeboot_tftp_dropped_total', 'TFTP datagrams dropped unanswered, by reason.', ['reason']),
    duration: reg.histogram('edgeboot_tftp_transfer_seconds', 'Duration of finished TFTP transfers.', [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120], ['outcome']),
  };
}
