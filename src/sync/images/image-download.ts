import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EdgebootError, messageOf } from '../../core/errors.js';
import type { RegionClient } from '../region/index.js';

/** One file to fetch: where it lives on the region and where it goes, with what it must hash to. */
export interface ImageFileTask {
  /** `os/arch/subarch/release/label/name`, for messages and progress. */
  label: string;
  regionPath: string;
  dest: string;
  /** The download in progress (resumable). */
  part: string;
  /** The complete, verified file, staged until its whole selection can be installed. */
  ready: string;
  size: number;
  sha256: string;
}

/** Bytes-so-far callback for progress display. */
export type BytesProgress = (done: number, size: number) => void;

async function hashPrefix(file: string): Promise<Hash> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h;
}

/** Flush a directory entry (the rename) to disk. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Turn a write failure into the clear disk-full sentence when it is one. */
export function writeError(err: unknown, task: ImageFileTask): EdgebootError {
  const code = (err as { code?: string }).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new EdgebootError('E_IMAGE', `no space left on the boot_root filesystem while writing ${task.label}; nothing was replaced`, { cause: err });
  }
  return new EdgebootError('E_IMAGE', `cannot write ${task.label}: ${messageOf(err)}`, { cause: err });
}

/**
 * Download one image file into its staging `.part` (resuming with a Range request when a part exists),
 * verify size and sha256, fsync, and stage it as `.ready`; `installImageFile` puts it in place later, once
 * every file of its selection is ready. A bad download is deleted and the served file stays in place.
 */
export async function downloadImageFile(
  client: Pick<RegionClient, 'openResource'>,
  task: ImageFileTask,
  options: { signal?: AbortSignal; onBytes?: BytesProgress } = {},
): Promise<{ resumedFrom: number }> {
  await mkdir(dirname(task.part), { recursive: true });
  // Staged by an earlier sync that could not install its selection: trust it only if it still verifies.
  try {
    const st = await stat(task.ready);
    if (st.size === task.size && (await hashFile(task.ready)) === task.sha256.toLowerCase()) return { resumedFrom: task.size };
    await rm(task.ready, { force: true });
  } catch {
    // Nothing staged.
  }
  let from = 0;
  try {
    const st = await stat(task.part);
    if (st.size < task.size) from = st.size;
    else await rm(task.part, { force: true });
  } catch {
    // No part yet: start from zero.
  }
  const res = await client.openResource(task.regionPath, { from, signal: options.signal });
  let hash: Hash;
  if (res.statusCode === 206 && from > 0) hash = await hashPrefix(task.part);
  else {
    from = 0;
    hash = createHash('sha256');
  }
  let done = from;
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(task.part, from > 0 ? 'a' : 'w', 0o644);
  } catch (err) {
    res.destroy();
    throw writeError(err, task);
  }
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      done += chunk.length;
      if (done > task.size) throw new EdgebootError('E_IMAGE', `${task.label} is larger than the ${task.size} bytes the region announced; rejected`);
      hash.update(chunk);
      try {
        await fh.write(chunk);
      } catch (err) {
        throw writeError(err, task);
      }
      options.onBytes?.(done, task.size);
    }
    if (done !== task.size) {
      throw new EdgebootError('E_IMAGE', `${task.label} ended after ${done} of ${task.size} bytes; will resume on the next sync`);
    }
    try {
      await fh.sync();
    } catch (err) {
      throw writeError(err, task);
    }
  } catch (err) {
    await fh.close().catch(() => undefined);
    res.destroy();
    // A transfer cut short (network, stop) keeps its part for resuming; a bad or unwritable file is removed.
    const resumable = !(err instanceof EdgebootError) || /will resume/.test(err.message);
    if (!resumable) await rm(task.part, { force: true });
    if (err instanceof EdgebootError) throw err;
    throw new EdgebootError('E_IMAGE', `download of ${task.label} was interrupted after ${done} bytes (${messageOf(err)}); will resume`, {
      cause: err,
    });
  }
  await fh.close();
  const got = hash.digest('hex');
  if (got !== task.sha256.toLowerCase()) {
    await rm(task.part, { force: true });
    throw new EdgebootError('E_IMAGE', `${task.label} does not match its sha256 (got ${got}); rejected, the previous file stays in place`);
  }
  try {
    await rename(task.part, task.ready);
  } catch (err) {
    throw writeError(err, task);
  }
  return { resumedFrom: from };
}

/** Rename a staged, verified file over its destination (same filesystem: needs no space, never half-written). */
export async function installImageFile(task: ImageFileTask): Promise<void> {
  try {
    await mkdir(dirname(task.dest), { recursive: true });
    await rename(task.ready, task.dest);
    await fsyncDir(dirname(task.dest));
  } catch (err) {
    throw writeError(err, task);
  }
}

/** sha256 of a whole file on disk. */
export async function hashFile(file: string): Promise<string> {
  return (await hashPrefix(file)).digest('hex');
}
