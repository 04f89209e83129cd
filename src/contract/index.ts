// The region wire contract, written once for both sides: snapshot, selection, boot-event and discovery
// shapes (zod schemas and the types they give) and their conversion to and from the node model.
// May import: core.
export { type BootEventInput, type BootEventKind, bootEventsBodySchema, printableLine, type RegionBootEvent, toBootEvent } from './boot-events.js';
export { changesBodySchema, REVISION_HEADER, type WireChanges } from './changes-wire.js';
export { discoveryBodySchema, type WireDiscovery } from './discovery.js';
export { formatPath, parseSnapshot, parseSnapshotInSlices, plainSnapshotSteps, type PlainNode, type PlainSnapshot, type RawSnapshot, sealNode, sealNodeLike, selectionKey, SnapshotChecker, type WireNode, type WireSelection, type WireSnapshot } from './snapshot-schema.js';
export { nodeToWire, snapshotToWire } from './snapshot-wire.js';
