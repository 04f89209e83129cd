// Boot image sync: download, verify and lay out the region's selected images under boot_root.
// May import: core, contract, sync/nodes, sync/region.
export { ImageSyncService } from './image-sync-service.js';
export { type ImageProgress, listImages, syncImages } from './image-sync.js';
