import type { MacAddress } from '../core/mac.js';
import type { Node } from '../core/node.js';
import type { SystemUuid } from '../core/uuid.js';

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
