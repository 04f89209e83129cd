// The region link: HTTP client, typed failures, the snapshot fetcher and its helper process (helper/), and
// the follower that keeps the store current. May import: core, contract, sync/nodes, sync/snapshot.
export { RegionClient } from './region-client.js';
export { backoffMs, RegionError } from './region-error.js';
export { RegionSource } from './region-source.js';
