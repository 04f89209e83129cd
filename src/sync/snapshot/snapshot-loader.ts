import { EdgebootError, messageOf } from '../../core/errors.js';
import { parseJsonInSlices } from './json-slices.js';
import type { Snapshot } from '../../core/node.js';
import type { NodeIndexTables } from '../../core/node-index.js';
import { parseSnapshotInSlices } from '../../contract/index.js';

/** A loaded snapshot and, from the helper, its generation there (so the next load can name unchanged nodes by position). */
export interface LoadedSnapshot {
  snapshot: Snapshot;
  generation?: string;
  /** Lookup tables built with the snapshot (node-index.ts), ready for NodeStore.install. */
  tables?: NodeIndexTables;
}

/**
 * Parse, validate and normalise a snapshot body on this thread, in slices, yielding to the event loop
 * between them. A bad body throws one EdgebootError('E_SNAPSHOT') naming every problem with its path.
 * (The region follower normally does this in its helper process: region-worker.ts.)
 */
export async function loadSnapshot(body: Buffer, where: string): Promise<LoadedSnapshot> {
  let doc: unknown;
  try {
    doc = await parseJsonInSlices(body);
  } catch (err) {
    throw new EdgebootError('E_SNAPSHOT', `${where} is not JSON: ${messageOf(err)}`);
  }
  return { snapshot: await parseSnapshotInSlices(doc, where) };
}
