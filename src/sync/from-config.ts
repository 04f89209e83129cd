import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { MetricsRegistry } from '../core/metrics.js';
import type { Service } from '../core/service.js';
import { type BootEventSink, NO_BOOT_EVENTS } from '../observe/boot-milestones.js';
import type { DiscoveryLog } from '../observe/discoveries.js';
import { DiscoveryReporter } from './report/index.js';
import { EventReporter } from './report/index.js';
import { ImageSyncService } from './images/index.js';
import { InventorySource } from './inventory/index.js';
import type { SnapshotFeed } from './nodes/index.js';
import type { NodeStore } from './nodes/index.js';
import { RegionClient } from './region/index.js';
import { RegionSource } from './region/index.js';
import { PersistedSnapshot } from './snapshot/index.js';

/** The region-side parts of an appliance that follows a region. */
export interface RegionParts {
  client: RegionClient;
  source: RegionSource;
  events: EventReporter;
}

/** A RegionClient from the `region` block of the config. */
export function regionClientFromConfig(region: NonNullable<Config['region']>): RegionClient {
  return new RegionClient({
    url: region.url,
    urls: region.urls,
    clusterId: region.cluster_id,
    tokenFile: region.token_file,
    caFile: region.ca_file,
    timeoutMs: region.timeout_seconds * 1000,
  });
}

/** The node feed the config asks for: a RegionSource when `region` is set, else the inventory files. */
export function feedFromConfig(
  config: Config,
  store: NodeStore,
  log: Logger,
  options: { watch?: boolean } = {},
): { feed: SnapshotFeed; region?: RegionParts; events: BootEventSink } {
  if (!config.region) {
    const feed = new InventorySource({ path: config.inventory, store, log: log.child({ part: 'inventory' }), watch: options.watch });
    return { feed, events: NO_BOOT_EVENTS };
  }
  const r = config.region;
  const client = regionClientFromConfig(r);
  const backoffMaxMs = r.backoff_max_seconds * 1000;
  const persisted =
    r.persist_snapshot && r.state_dir ? new PersistedSnapshot({ dir: r.state_dir, clusterId: r.cluster_id, log: log.child({ part: 'region-snapshot' }) }) : undefined;
  const source = new RegionSource({ client, store, log: log.child({ part: 'region' }), waitSeconds: r.wait_seconds, backoffMaxMs, persisted });
  const events = new EventReporter({ client, log: log.child({ part: 'region-events' }), maxQueue: r.event_queue, backoffMaxMs });
  return { feed: source, region: { client, source, events }, events };
}

/** The services that report to the region and sync images, and the region facts for /healthz. */
export function regionServicesFromConfig(
  config: Config,
  parts: { region?: RegionParts; store: NodeStore; discoveries: DiscoveryLog; log: Logger; metrics: MetricsRegistry; inUse?: (absDir: string) => boolean },
): { services: Service[]; health: () => Record<string, unknown> } {
  const region = parts.region;
  if (!region) return { services: [], health: () => ({}) };
  const backoffMaxMs = (config.region?.backoff_max_seconds ?? 30) * 1000;
  region.source.registerMetrics(parts.metrics);
  region.events.registerMetrics(parts.metrics);
  const discoveries = new DiscoveryReporter({
    client: region.client,
    discoveries: parts.discoveries,
    store: parts.store,
    log: parts.log.child({ part: 'region-discoveries' }),
    metrics: parts.metrics,
    backoffMaxMs,
  });
  const services: Service[] = [discoveries, region.events];
  let images: ImageSyncService | undefined;
  if (config.images.sync) {
    images = new ImageSyncService({
      client: region.client,
      store: parts.store,
      bootRoot: config.boot_root,
      log: parts.log.child({ part: 'images' }),
      metrics: parts.metrics,
      concurrency: config.images.concurrency,
      inUse: parts.inUse,
    });
    services.push(images);
  }
  const health = () => ({
    region: {
      ...region.source.health(),
      discoveriesPending: discoveries.pending,
      eventsQueued: region.events.queue.size,
      eventsDropped: region.events.queue.dropped,
      images: images?.health() ?? null,
    },
  });
  return { services, health };
}
