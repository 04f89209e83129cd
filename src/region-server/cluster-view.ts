// Per-cluster views of one global revision stream. A node naming a cluster is served only to that cluster;
// a node naming none is served to every cluster. Each revision records, per node it touched, the cluster it
// was in before and after, so a node that moves from X to Y is a removal for X and a change for Y, and a
// revision that touched nothing of X's is no news for X (its long polls keep waiting).

/** The cluster a node is served to: a cluster id, or null for every cluster. */
export type Scope = string | null;

/** What one revision touched, with each node's cluster before and after (equal for a node added). */
export interface ScopedEntry {
  revision: number;
  changed: string[];
  changedFrom: Scope[];
  changedTo: Scope[];
  removed: string[];
  removedFrom: Scope[];
  /** Config or boot selections changed (every cluster's news). */
  settings: boolean;
}

/** Whether a node in `scope` is part of `cluster`'s view (undefined = the whole region, every node). */
export const inView = (scope: Scope, cluster: string | undefined): boolean => cluster === undefined || scope === null || scope === cluster;

/** Whether a revision changed what `cluster` is served. */
export function touches(e: ScopedEntry, cluster: string | undefined): boolean {
  if (cluster === undefined || e.settings) return true;
  for (let i = 0; i < e.changed.length; i++) if (inView(e.changedFrom[i] ?? null, cluster) || inView(e.changedTo[i] ?? null, cluster)) return true;
  for (let i = 0; i < e.removed.length; i++) if (inView(e.removedFrom[i] ?? null, cluster)) return true;
  return false;
}

/** Whether a revision after `since` changed `cluster`'s view (entries oldest first; a `since` below `floor` is past what they can say, so true). */
export function touchedAfter(entries: readonly ScopedEntry[], cluster: string | undefined, since: number, floor: number): boolean {
  if (since < floor) return true;
  // Newest first, stopping at `since`: a held poll re-checks only the revisions it has not seen.
  for (let i = entries.length - 1; i >= 0 && entries[i]!.revision > since; i--) if (touches(entries[i]!, cluster)) return true;
  return false;
}

/** The ids `cluster` must take whole and the ids it must drop, for the revisions after `since` (entries oldest first). */
export function scopedDelta(entries: readonly ScopedEntry[], since: number, cluster: string | undefined): { changed: Set<string>; removed: Set<string>; settings: boolean } {
  const changed = new Set<string>();
  const removed = new Set<string>();
  let settings = false;
  for (const e of entries) {
    if (e.revision <= since) continue;
    e.changed.forEach((id, i) => {
      if (inView(e.changedTo[i] ?? null, cluster)) {
        changed.add(id);
        removed.delete(id);
      } else if (inView(e.changedFrom[i] ?? null, cluster)) {
        // Moved out of this cluster's view: for this cluster it is gone.
        removed.add(id);
        changed.delete(id);
      }
    });
    e.removed.forEach((id, i) => {
      if (!inView(e.removedFrom[i] ?? null, cluster)) return;
      removed.add(id);
      changed.delete(id);
    });
    settings ||= e.settings;
  }
  return { changed, removed, settings };
}
