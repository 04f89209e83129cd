// Turning a snapshot body into a validated snapshot on this thread: streaming JSON slices and the loader.
// May import: core, contract.
export { define, isJsonObject, walkObjectSteps } from './json-slices.js';
export { type PersistedCopy, PersistedSnapshot, type PersistedSnapshotOptions } from './persisted-snapshot.js';
export { type LoadedSnapshot, loadSnapshot } from './snapshot-loader.js';
