import type { Logger } from 'pino';
import type { MacAddress } from '../core/mac.js';
import type { RegionStore } from './store/region-store.js';
import type { RegionTokens } from './tokens.js';

/** How the reference region is run. */
export interface RegionServerOptions {
  /** The inventory (the file-backed store's truth; with a database, what is imported at start). */
  inventory?: string;
  tokensFile: string;
  /** Folder served under /api/v1/boot-resources/. */
  resources?: string;
  host: string;
  port: number;
  tls?: { certFile: string; keyFile: string };
  log: Logger;
  /** Longest `?wait=` honoured. */
  maxWaitSeconds?: number;
  watch?: boolean;
  /** Folder for the revision state (region-revisions.json): a restarted region answers deltas from where it stopped. */
  stateDir?: string;
}

/** The serialised snapshot every cluster is served, with its ETag. */
export interface WireState {
  etag: string;
  version: string;
  /** The cluster revision this snapshot is (the feed's `since` for a rack holding it). */
  revision: number;
  body: Buffer;
  nodes: number;
  /** The body gzip-compressed, made once per snapshot on first request (zlib runs off the event loop). */
  gzipped?: Promise<Buffer>;
}

/** A discovery as the region API receives it. */
export interface DiscoveryInput {
  mac: MacAddress;
  uuid?: string | null;
  arch?: string | null;
  ip?: string | null;
  seen_at?: string | null;
}

/** What the region's HTTP routes need of the region (region-app.ts): RegionServer is the one implementation. */
export interface RegionBackend {
  readonly options: RegionServerOptions;
  readonly tokens: RegionTokens;
  /** Nodes, settings, discoveries, events, reports and the revision feed. */
  readonly data: RegionStore;
  readonly stats: { snapshotOk: number; snapshotNotModified: number; changesOk: number; discoveries: number; eventBatches: number };
  gzipped(wire: WireState): Promise<Buffer>;
}
