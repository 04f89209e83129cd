import type { Node } from '../core/node.js';
import type { Purpose } from './kinds.js';

/** The purpose of a boot and the one-sentence reason for it. */
export interface PurposeDecision {
  purpose: Purpose;
  reason: string;
  /** True when the decision deserves a warning in the log (failed/broken/unknown state). */
  warn: boolean;
}

/** Facts about the appliance that change the decision for unknown machines. */
export interface PurposeContext {
  /** False while no snapshot was ever loaded (region never answered). */
  snapshotLoaded: boolean;
}

const BY_STATE: Record<string, Purpose> = {
  new: 'wait',
  commissioning: 'commission',
  testing: 'commission',
  deploying: 'install',
  deployed: 'local',
  allocated: 'local',
  ready: 'local',
  rescue: 'rescue',
};

/** Decide the boot purpose from the node's state, exactly per the ARCHITECTURE.md table. */
export function decidePurpose(node: Node | undefined, ctx: PurposeContext = { snapshotLoaded: true }): PurposeDecision {
  if (!node) {
    if (!ctx.snapshotLoaded) {
      return {
        purpose: 'region-wait',
        reason: 'this appliance has not loaded node data from the region yet; the machine will retry',
        warn: false,
      };
    }
    return { purpose: 'enlist', reason: 'unknown MAC: booting the enlistment image', warn: false };
  }
  const purpose = BY_STATE[node.status];
  if (purpose) {
    const reasons: Record<string, string> = {
      wait: `node ${node.hostname} is new and awaiting approval; no disk is touched`,
      commission: `node ${node.hostname} is ${node.status}: booting the ephemeral commissioning image`,
      install: `node ${node.hostname} is deploying ${node.osystem} ${node.release}`,
      local: `node ${node.hostname} is ${node.status}: booting from local disk`,
      rescue: `node ${node.hostname} is in rescue mode: booting the ephemeral image, no install`,
    };
    return { purpose, reason: reasons[purpose] ?? node.status, warn: false };
  }
  const why = node.statusReason ? ` (${node.statusReason})` : '';
  return {
    purpose: 'error',
    reason: `node ${node.hostname} is in state "${node.status}"${why}; edgeboot will not boot it`,
    warn: true,
  };
}
