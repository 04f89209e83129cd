import { z } from 'zod';
import type { WireNode, WireSelection, WireSnapshot } from './snapshot-schema.js';

// The delta feed of `GET /api/v1/clusters/{id}/changes?since=<rev>&wait=<s>`: only what changed since a
// revision. The envelope is checked here; the rack applies it to its last good snapshot and checks the
// result whole with the snapshot checker, so a delta can never leave the rack with a snapshot a full
// sync would have refused.

const revision = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const systemId = z.string().regex(/^[a-z0-9][a-z0-9._+-]*$/i, 'must be a simple name (letters, digits, . _ + -)');

/** The envelope of a changes answer; node and selection bodies are checked later, as part of the merged snapshot. */
export const changesBodySchema = z.object({
  revision,
  nodes_changed: z.array(z.record(z.string(), z.unknown())).default([]),
  nodes_removed: z.array(systemId).default([]),
  config: z.record(z.string(), z.unknown()).optional(),
  boot_selections: z.array(z.unknown()).optional(),
});

/** A changes answer as the region sends it: the new revision, nodes added or changed (whole), removed system ids, and config/selections only when they changed. */
export type WireChanges = {
  revision: number;
  nodes_changed: WireNode[];
  nodes_removed: string[];
  config?: WireSnapshot['config'];
  boot_selections?: WireSelection[];
};

/** The revision a snapshot answer carries beside its version, in the body and in this header. */
export const REVISION_HEADER = 'x-edgeboot-revision';
