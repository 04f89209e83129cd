// The reference region (`edgeboot region`): a separate program serving the region API from inventory files.
// May import: core, contract, and the read side of sync (sync/nodes, sync/inventory) so that inventory files have one parser.
export { RegionServer } from './region-server.js';
