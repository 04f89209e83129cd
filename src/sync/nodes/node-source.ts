import type { MacAddress } from '../../core/mac.js';
import type { Node } from '../../core/node.js';
import type { SystemUuid } from '../../core/uuid.js';

/** What a caller knows about the machine asking: any one of these identifies it. */
export interface NodeQuery {
  mac?: MacAddress;
  uuid?: SystemUuid;
  systemId?: string;
}

/**
 * The narrow interface every consumer of node data owns.
 * `undefined` means "not found"; a throw means "the source failed".
 */
export interface NodeSource {
  lookup(q: NodeQuery): Promise<Node | undefined>;
}

/** A NodeSource that loads snapshots into the NodeStore and follows changes (inventory files or a region). */
export interface SnapshotFeed extends NodeSource {
  /** The last load error, cleared by a good load. */
  readonly lastError: string | undefined;
  /** Load, then follow changes. */
  start(): Promise<void>;
  /** Load again now; with `throwOnError` a failed load throws instead of being logged. */
  reload(options?: { throwOnError?: boolean }): Promise<void>;
  stop(): Promise<void>;
}
