// The reference region (`edgeboot region`): a separate program serving the region API from inventory files or PostgreSQL.
// May import: core, contract, and the read side of sync (sync/nodes, sync/inventory) so that inventory files have one parser.
export { RegionServer } from './region-server.js';
export { PgStore, type PgStoreOptions } from './store/pg-store.js';
export type { RegionStore } from './store/region-store.js';
export { YamlStore } from './store/yaml-store.js';
