// The node store (read side every edge shares): NodeSource/SnapshotFeed ports and the in-memory NodeStore.
// May import: core.
export { type NodeQuery, type NodeSource, type SnapshotFeed } from './node-source.js';
export { NodeStore } from './node-store.js';
