// The inventory-file node feed (the embedded default when no region is configured): load, validate, watch.
// May import: core, contract, sync/nodes.
export { InventorySource, loadInventory } from './inventory-source.js';
