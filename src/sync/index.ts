// Sync: how the rack gets its nodes and images and tells the region what it saw. This door wires the
// sub-rooms from the config; each sub-room has its own door. May import: core, contract, config, observe, its sub-rooms.
export { feedFromConfig, regionClientFromConfig, type RegionParts, regionServicesFromConfig } from './from-config.js';
