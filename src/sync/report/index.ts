// Reporting to the region: discoveries of unknown MACs and boot milestones, queued and retried.
// May import: core, contract, observe, sync/nodes, sync/region.
export { DiscoveryReporter } from './discovery-reporter.js';
export { EventReporter } from './event-reporter.js';
