import type { Node } from '../../core/node.js';
import type { RegionBootEvent, WireChanges, WireNode } from '../../contract/index.js';
import type { ChangesRefusal } from '../change-log.js';
import type { InstallSignal } from '../install-signal.js';
import type { PresentedToken } from '../install-signal.js';
import type { DiscoveryInput, WireState } from '../region-backend.js';
import type { Waiting } from './waiters.js';

// The one interface both region stores implement (YamlStore: inventory files, the default; PgStore:
// PostgreSQL, for replicas). RegionServer and its HTTP routes speak only to this, and the contract suite
// (test/integration/region-server/store-contract.test.ts) runs the same checks over both.

/** A boot event as kept by the region, with the cluster that reported it. */
export interface StoredEvent {
  cluster: string;
  event: RegionBootEvent;
}

/** An install signal or report as kept by the region (never a token part). */
export type StoredReport = { system_id: string; at: string } & InstallSignal;

/** Region state: nodes, cluster settings, selections, discoveries, boot events, install reports and the revision feed. */
export interface RegionStore {
  /** "yaml" or "postgres", for logs and /healthz. */
  readonly kind: string;
  /** Load (and for a database: migrate); throws when the first load cannot be made. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGHUP: re-read what the store reads from files. */
  reload(): Promise<void>;
  /** Why reads cannot be answered right now (a database that is down), or undefined when they can. */
  unavailable(): string | undefined;
  /** Version, revision and node count of what is served, without building the body; undefined before the first good load. */
  head(): { version: string; revision: number; nodes: number } | undefined;
  /** The snapshot being served with its ETag and revision, or undefined before the first good load. */
  current(): WireState | undefined;
  /** The revision of the snapshot being served. */
  readonly revision: number;
  /** What changed after `since`, or why only a full re-list can say it. */
  changesSince(since: number): Promise<WireChanges | ChangesRefusal>;
  /** Resolve when the revision has moved past `since`, or after `ms` (false). */
  waitForRevision(since: number, ms: number): Waiting;
  /** Resolve when the served snapshot's ETag differs from `etag`, or after `ms` (false). */
  waitForChange(etag: string, ms: number): Waiting;
  /** Long polls being held. */
  readonly waiting: number;
  /** Add or replace whole nodes (validated; a node whose body is unchanged is no change); returns the ids that changed. */
  putNodes(nodes: unknown[]): Promise<string[]>;
  /** Remove nodes by `mac|system_id|hostname`; returns the system ids removed (an unknown ref is no change). */
  removeNodes(refs: string[]): Promise<string[]>;
  /** The node a `mac|system_id|hostname` reference names. */
  findNode(ref: string): Promise<Node | undefined>;
  /** The node whose own token is `t` (install signals are authenticated by it alone). */
  nodeOfToken(t: PresentedToken): Promise<Node | undefined>;
  /** Nodes as the admin API lists them (tokens left out). */
  listNodes(): Promise<Array<Omit<WireNode, 'token'>>>;
  /** Record an unknown machine as a `status: new` node (idempotent per MAC). */
  addDiscovery(d: DiscoveryInput, cluster: string): Promise<{ created: boolean; systemId: string }>;
  /** Change a node's status; with `from`, only when it is in that state now (approve). A repeat of a change already made is answered as done. */
  setStatus(ref: string, status: string, options?: { reason?: string; from?: string }): Promise<Node>;
  /** Keep a batch of boot events; one whose id is already kept is a retry and skipped. Returns how many were new. */
  addEvents(cluster: string, events: RegionBootEvent[]): Promise<number>;
  /** The newest 10,000 boot events, oldest first. */
  listEvents(): Promise<StoredEvent[]>;
  addReport(report: StoredReport): Promise<void>;
  /** The newest 10,000 install signals and reports, oldest first. */
  listReports(): Promise<StoredReport[]>;
}
