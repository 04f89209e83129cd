import { createHash } from 'node:crypto';
import type { WireChanges, WireNode, WireSelection, WireSnapshot } from '../contract/index.js';
import { type Scope, type ScopedEntry, scopedDelta, touchedAfter } from './cluster-view.js';

// The revision feed of the file-backed region: each served snapshot that differs from the one before is one
// revision, and the log remembers which system ids each revision touched. Bodies are not kept: an answer
// takes the nodes' current form, which is what a rack applying the delta must end up with anyway.

/** One revision's footprint: ids added or changed and removed (with their clusters), and whether config or selections changed. */
interface Entry extends ScopedEntry {
  config: boolean;
  selections: boolean;
}

/**
 * What a restarted region needs to go on answering deltas from where it stopped: the revision it served last and
 * a digest of every node, the config and the selections as served then (digests only: no node body, no token).
 */
export interface ChangeLogState {
  revision: number;
  nodes: Record<string, string>;
  config: string;
  selections: string;
}

/** A short digest of one served JSON text (enough to tell a changed node from an unchanged one). */
function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** Why a `since` cannot be answered with a delta (both mean: re-list through the snapshot). */
export type ChangesRefusal = { gone: 'too-old' | 'ahead'; revision: number };

/** Revisions of one served snapshot stream, with a bounded history of what each one touched. */
export class ChangeLog {
  #revision: number;
  #floor: number;
  readonly #entries: Entry[] = [];
  readonly #keep: number;
  #nodes = new Map<string, string>();
  #scopes = new Map<string, Scope>();
  #current = new Map<string, WireNode>();
  #config = '';
  #selections = '';
  #snapshot: WireSnapshot | undefined;
  /** Node digests of the last `state()`, by id, with the text they were made from. */
  #digests = new Map<string, { text: string; digest: string }>();
  /** The state a previous process left: the first snapshot recorded is compared with it instead of being the base. */
  #resumed: ChangeLogState | undefined;

  /**
   * Start at `start` (the oldest `since` answerable until history fills), keeping the newest `keep` revisions;
   * with `resume`, go on from the revision a previous process served instead (its `since` is answerable).
   */
  constructor(start: number, keep = 10_000, resume?: ChangeLogState) {
    this.#revision = resume?.revision ?? start;
    this.#floor = this.#revision;
    this.#keep = keep;
    this.#resumed = resume;
  }

  /** The state to keep on disk for `resume` (call after `record`); only nodes whose text changed since the last call are hashed again. */
  state(): ChangeLogState {
    const nodes: Record<string, string> = {};
    const digests = new Map<string, { text: string; digest: string }>();
    for (const [id, text] of this.#nodes) {
      const before = this.#digests.get(id);
      const d = before && before.text === text ? before : { text, digest: digest(text) };
      digests.set(id, d);
      nodes[id] = d.digest;
    }
    this.#digests = digests;
    return { revision: this.#revision, nodes, config: digest(this.#config), selections: digest(this.#selections) };
  }

  /** The revision of the snapshot being served. */
  get revision(): number {
    return this.#revision;
  }

  /** The oldest `since` still answerable by a delta. */
  get floor(): number {
    return this.#floor;
  }

  /** Take the next served snapshot; returns true when it differs from the previous one (a new revision). */
  record(s: WireSnapshot): boolean {
    const nodes = new Map<string, string>();
    const scopes = new Map<string, Scope>();
    const current = new Map<string, WireNode>();
    for (const n of s.nodes) {
      nodes.set(n.system_id, JSON.stringify(n));
      scopes.set(n.system_id, n.cluster ?? null);
      current.set(n.system_id, n);
    }
    const config = JSON.stringify(s.config);
    const selections = JSON.stringify(s.boot_selections);
    const resumed = this.#snapshot === undefined ? this.#resumed : undefined;
    this.#resumed = undefined;
    const first = this.#snapshot === undefined && !resumed;
    const changed: string[] = [];
    const removed: string[] = [];
    const changedFrom: Scope[] = [];
    const changedTo: Scope[] = [];
    const removedFrom: Scope[] = [];
    let configChanged = false;
    let selectionsChanged = false;
    if (resumed) {
      // A restart: compare with what the previous process served, by digest. Its clusters were not kept, so
      // each node counts as having been in every cluster's view: a cluster that never had it drops nothing.
      const before = new Map(Object.entries(resumed.nodes));
      for (const [id, text] of nodes) {
        if (before.get(id) === digest(text)) continue;
        changed.push(id);
        changedTo.push(scopes.get(id)!);
        changedFrom.push(null);
      }
      for (const id of before.keys()) {
        if (nodes.has(id)) continue;
        removed.push(id);
        removedFrom.push(null);
      }
      configChanged = resumed.config !== digest(config);
      selectionsChanged = resumed.selections !== digest(selections);
    } else if (!first) {
      for (const [id, text] of nodes) {
        if (this.#nodes.get(id) === text) continue;
        changed.push(id);
        changedTo.push(scopes.get(id)!);
        changedFrom.push(this.#scopes.has(id) ? this.#scopes.get(id)! : scopes.get(id)!);
      }
      for (const id of this.#nodes.keys()) {
        if (nodes.has(id)) continue;
        removed.push(id);
        removedFrom.push(this.#scopes.get(id)!);
      }
      configChanged = config !== this.#config;
      selectionsChanged = selections !== this.#selections;
    }
    const entry: Entry = {
      revision: this.#revision + 1,
      changed,
      changedFrom,
      changedTo,
      removed,
      removedFrom,
      settings: configChanged || selectionsChanged,
      config: configChanged,
      selections: selectionsChanged,
    };
    this.#nodes = nodes;
    this.#scopes = scopes;
    this.#current = current;
    this.#config = config;
    this.#selections = selections;
    this.#snapshot = s;
    if (first || (!changed.length && !removed.length && !entry.config && !entry.selections)) return false;
    this.#revision = entry.revision;
    this.#entries.push(entry);
    if (this.#entries.length > this.#keep) this.#floor = this.#entries.splice(0, this.#entries.length - this.#keep).at(-1)!.revision;
    return true;
  }

  /** Whether a revision after `since` changed `cluster`'s view (undefined: any revision after it). */
  touchedAfter(since: number, cluster: string | undefined): boolean {
    return cluster === undefined ? this.#revision > since : touchedAfter(this.#entries, cluster, since, this.#floor);
  }

  /** What changed in `cluster`'s view after `since` (undefined: every node), or why a delta cannot say it (older than the history kept, or ahead of it). */
  since(since: number, cluster?: string): WireChanges | ChangesRefusal {
    if (since > this.#revision) return { gone: 'ahead', revision: this.#revision };
    if (since < this.#floor) return { gone: 'too-old', revision: this.#revision };
    const { changed, removed } = scopedDelta(this.#entries, since, cluster);
    let config = false;
    let selections = false;
    for (const e of this.#entries) {
      if (e.revision <= since) continue;
      config ||= e.config;
      selections ||= e.selections;
    }
    const out: WireChanges = {
      revision: this.#revision,
      nodes_changed: [...changed].map((id) => this.#current.get(id)!),
      nodes_removed: [...removed],
    };
    if (config && this.#snapshot) out.config = this.#snapshot.config;
    if (selections && this.#snapshot) out.boot_selections = this.#snapshot.boot_selections as WireSelection[];
    return out;
  }
}
