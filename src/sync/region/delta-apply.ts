import { EdgebootError } from '../../core/errors.js';
import type { Node, Snapshot } from '../../core/node.js';
import { changesBodySchema, formatPath, nodeToWire, plainSnapshotSteps, sealNodeLike, snapshotToWire, type WireChanges, type WireNode } from '../../contract/index.js';

// A delta from the region's feed applied to the rack's last good snapshot. The merged result is checked whole
// by the same checker as a full snapshot, so a delta can never leave the rack with a snapshot a full sync
// would have refused; a bad delta throws and the snapshot in force stays as it was.

/** A delta applied: the merged snapshot and what it changed. */
export interface AppliedDelta {
  snapshot: Snapshot;
  revision: number;
  changed: number;
  removed: number;
}

/** Check a changes body's envelope; throws E_SNAPSHOT naming every problem. */
export function parseChanges(body: unknown, where: string): WireChanges {
  const r = changesBodySchema.safeParse(body);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${formatPath(i.path) || '(top)'}: ${i.message}`);
    throw new EdgebootError('E_SNAPSHOT', `${where} is not a valid changes answer: ${lines.join('; ')}`);
  }
  return r.data as WireChanges;
}

/** The version a merged snapshot carries: the revision it stands for (a delta brings no snapshot version). */
export function revisionVersion(revision: number): string {
  return `rev-${revision}`;
}

/**
 * Merge `changes` into `current` and check the result whole; yields to the event loop every `slice` nodes.
 * Unchanged nodes are kept as the very objects in force; changed ones share their equal fields with them.
 */
export async function applyDelta(current: Snapshot, changes: WireChanges, where: string, slice = 2000): Promise<AppliedDelta> {
  const removed = new Set(changes.nodes_removed);
  const changedById = new Map<string, WireNode>();
  for (const n of changes.nodes_changed) {
    const id = (n as { system_id?: unknown }).system_id;
    // A changed node without a system_id cannot be placed; the checker names it below.
    changedById.set(typeof id === 'string' ? id : `\u0000${changedById.size}`, n);
  }
  const named = new Set(changedById.keys());
  const byId = new Map<string, Node>();
  const wireNodes: WireNode[] = [];
  for (const n of current.nodes) {
    byId.set(n.systemId, n);
    if (removed.has(n.systemId)) continue;
    const replacement = changedById.get(n.systemId);
    if (replacement) {
      wireNodes.push(replacement);
      changedById.delete(n.systemId);
    } else wireNodes.push(nodeToWire(n));
  }
  // Nodes new to this rack come last, in the order the region sent them.
  for (const n of changedById.values()) wireNodes.push(n);
  const base = snapshotToWire({ ...current, nodes: [] });
  const merged = {
    version: revisionVersion(changes.revision),
    nodes: wireNodes,
    config: changes.config ?? base.config,
    boot_selections: changes.boot_selections ?? base.boot_selections,
  };
  const steps = plainSnapshotSteps(merged, where, slice);
  let r = steps.next();
  while (!r.done) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    r = steps.next();
  }
  const plain = r.value;
  const nodes: Node[] = [];
  for (let i = 0; i < plain.nodes.length; i++) {
    if (i > 0 && i % slice === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const p = plain.nodes[i]!;
    const prev = byId.get(p.systemId);
    // A node the delta did not name is the one in force: keep that object (no new token wrapper, no copy).
    nodes.push(prev && !named.has(p.systemId) ? prev : sealNodeLike(p, prev));
  }
  return {
    snapshot: { ...plain, nodes } as unknown as Snapshot,
    revision: changes.revision,
    changed: changes.nodes_changed.length,
    removed: changes.nodes_removed.length,
  };
}
