import type { Logger } from 'pino';
import type { BootService } from '../boot/boot-service.js';
import type { Config } from '../config/config.js';
import type { MetricsRegistry } from '../core/metrics.js';
import type { OpenFiles } from '../files/open-files.js';
import { TftpService } from './server.js';

/** The TFTP service as `edgeboot serve` runs it: every local IPv4 address, limits from the `tftp` block. */
export function tftpServiceFromConfig(config: Config, parts: { boot: BootService; log: Logger; metrics: MetricsRegistry; openFiles?: OpenFiles }): TftpService {
  const t = config.tftp;
  return new TftpService({
    ...parts,
    bootRoot: config.boot_root,
    loaderDirs: config.loader_dirs,
    port: t.port,
    maxTransfers: t.max_transfers,
    maxPerClient: t.max_per_client,
    maxBlksize: t.max_blksize,
    maxWindowsize: t.max_windowsize,
    retries: t.retries,
    cacheBytes: t.cache_bytes,
  });
}
