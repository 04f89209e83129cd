import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { messageOf } from '../core/errors.js';
import type { ChangeLogState } from './change-log.js';

// The file-backed region's revision feed survives a restart: the revision it served last and a digest of what it
// served, so a rack that held that revision (often one that restarted from its own persisted copy meanwhile) gets a
// delta instead of a full re-list. Written whole and synced before the new revision is served, so no restarted
// region can hand out a revision number an earlier process used for other contents.

const FORMAT = 'edgeboot-region-revisions/1';

/** The revision state file of a region state folder. */
export function revisionFilePath(stateDir: string): string {
  return join(stateDir, 'region-revisions.json');
}

/** Read the state a previous process left; undefined when there is none or it cannot be used (one log line). */
export function loadRevisionState(path: string, log: Logger): ChangeLogState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.error({ path, err: messageOf(err) }, 'cannot read the revision state; starting a new revision history');
    return undefined;
  }
  try {
    const doc = JSON.parse(text) as { format?: unknown; revision?: unknown; nodes?: unknown; config?: unknown; selections?: unknown };
    const ok =
      doc.format === FORMAT &&
      Number.isSafeInteger(doc.revision) &&
      typeof doc.config === 'string' &&
      typeof doc.selections === 'string' &&
      typeof doc.nodes === 'object' &&
      doc.nodes !== null &&
      !Array.isArray(doc.nodes) &&
      Object.values(doc.nodes).every((v) => typeof v === 'string');
    if (!ok) throw new Error(`not an ${FORMAT} document`);
    return { revision: doc.revision as number, nodes: doc.nodes as Record<string, string>, config: doc.config as string, selections: doc.selections as string };
  } catch (err) {
    log.error({ path, err: messageOf(err) }, 'the revision state cannot be used; starting a new revision history (racks re-list once)');
    return undefined;
  }
}

/** Write the state whole (temporary file, fsync, rename); throws on failure (the caller logs it). */
export function saveRevisionState(path: string, dir: string, state: ChangeLogState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ format: FORMAT, ...state }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
