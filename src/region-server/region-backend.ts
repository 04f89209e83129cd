import type { Logger } from 'pino';
import type { MacAddress } from '../core/mac.js';
import type { Node } from '../core/node.js';
import type { RegionBootEvent, WireChanges } from '../contract/index.js';
import type { ChangesRefusal } from './change-log.js';
import type { NodeStore } from '../sync/nodes/index.js';
import type { InstallSignal } from './install-signal.js';
import type { RegionTokens } from './tokens.js';

/** How the reference region is run. */
export interface RegionServerOptions {
  inventory: string;
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
  /** The nodes in force (install signals find the node by its token). */
  readonly store: NodeStore;
  readonly reports: Array<{ system_id: string; at: string } & InstallSignal>;
  readonly events: Array<{ cluster: string; event: RegionBootEvent }>;
  readonly stats: { snapshotOk: number; snapshotNotModified: number; changesOk: number; discoveries: number; eventBatches: number };
  readonly waiting: number;
  current(): WireState | undefined;
  gzipped(wire: WireState): Promise<Buffer>;
  waitForChange(etag: string, ms: number): { changed: Promise<boolean>; cancel: () => void };
  waitForRevision(since: number, ms: number): { changed: Promise<boolean>; cancel: () => void };
  changesSince(since: number): WireChanges | ChangesRefusal;
  addDiscovery(d: DiscoveryInput, cluster: string): Promise<{ created: boolean; systemId: string }>;
  setStatus(ref: string, status: string, options?: { reason?: string; from?: string }): Promise<Node>;
  listNodes(): Array<Record<string, unknown>>;
  addEvents(cluster: string, events: RegionBootEvent[]): number;
}
