import { mkdir, readdir, rm, rmdir, stat, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { EdgebootError, messageOf } from '../../core/errors.js';
import type { BootSelection } from '../../core/node.js';
import { downloadImageFile, hashFile, type ImageFileTask, installImageFile } from './image-download.js';
import { type FileRecord, ImageState, lockImages } from './image-state.js';
import type { RegionClient } from '../region/index.js';
import { selectionKey } from '../../contract/index.js';

/** Progress of a sync, for the CLI's bar or plain lines. */
export type ImageProgress =
  | { type: 'plan'; files: number; toFetch: number; bytes: number }
  | { type: 'start'; file: string; size: number; from: number }
  | { type: 'bytes'; file: string; done: number; size: number }
  | { type: 'done'; file: string; size: number; fetched: boolean }
  | { type: 'removed'; dir: string };

/** What a sync needs. */
export interface ImageSyncOptions {
  client: Pick<RegionClient, 'openResource'>;
  bootRoot: string;
  concurrency?: number;
  log?: Logger;
  /** True while a transfer reads from this image directory; such a directory is removed on a later sync. */
  inUse?: (absDir: string) => boolean;
  onProgress?: (e: ImageProgress) => void;
  signal?: AbortSignal;
}

/** What a sync did. */
export interface ImageSyncResult {
  files: number;
  fetched: number;
  bytes: number;
  removed: string[];
}

/** The state of one selected file on disk, for `edgeboot images list`. */
export interface ImageFileStatus {
  file: string;
  dest: string;
  size: number;
  state: 'ok' | 'missing' | 'differs';
}

/** The images tree (served) and the staging area (never served from a selection's directory). */
export function imagePaths(bootRoot: string): { images: string; staging: string; parts: string } {
  const staging = join(bootRoot, '.image-sync');
  return { images: join(bootRoot, 'images'), staging, parts: join(staging, 'partial') };
}

/** Every file the selections name, as download tasks into `images/<os>/<arch>/<subarch>/<release>/<label>/<name>`. */
export function planImages(selections: readonly BootSelection[], bootRoot: string): ImageFileTask[] {
  const p = imagePaths(bootRoot);
  return selections.flatMap((s) => {
    const key = selectionKey(s);
    return s.files.map((f) => {
      if (f.size === undefined || !f.sha256) throw new EdgebootError('E_IMAGE', `${key}/${f.name} has no size or sha256; it cannot be verified`);
      return {
        label: `${key}/${f.name}`,
        regionPath: f.path,
        dest: join(p.images, key, f.name),
        part: join(p.parts, `${f.sha256.toLowerCase()}.part`),
        ready: join(p.parts, `${f.sha256.toLowerCase()}.ready`),
        size: f.size,
        sha256: f.sha256.toLowerCase(),
      };
    });
  });
}

async function isPresent(task: ImageFileTask, rec: FileRecord | undefined): Promise<FileRecord | undefined> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(task.dest);
  } catch {
    return undefined;
  }
  if (!st.isFile() || st.size !== task.size) return undefined;
  const now: FileRecord = { sha256: task.sha256, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  if (rec && rec.sha256 === now.sha256 && rec.size === now.size && rec.mtimeMs === now.mtimeMs && rec.ino === now.ino) return now;
  return (await hashFile(task.dest)) === task.sha256 ? now : undefined;
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}

/** Bytes of `t` already on disk in staging: a verified `.ready` counts whole, else the resumable `.part`. */
async function partSize(t: ImageFileTask): Promise<number> {
  for (const f of [t.ready, t.part]) {
    try {
      return (await stat(f)).size;
    } catch {
      // Try the next one.
    }
  }
  return 0;
}

async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<unknown[]> {
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item).catch((err) => errors.push(err));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  return errors;
}

/** Remove `dir` and then its parents up to (not including) `stop` while they are empty. */
async function removeDir(dir: string, stop: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  for (let d = dirname(dir); d.startsWith(`${stop}/`); d = dirname(d)) {
    try {
      await rmdir(d);
    } catch {
      break;
    }
  }
}

/**
 * Bring the images tree in line with the selections: verify what is there, download what is missing or
 * different (bounded concurrency, verified, atomic), and only once the whole new set is in place remove
 * image directories this sync manages that are no longer selected. No selections means no downloads.
 */
export async function syncImages(selections: readonly BootSelection[], o: ImageSyncOptions): Promise<ImageSyncResult> {
  const p = imagePaths(o.bootRoot);
  const tasks = planImages(selections, o.bootRoot);
  await mkdir(p.parts, { recursive: true });
  const unlock = await lockImages(p.staging);
  try {
    const state = await ImageState.load(p.staging);
    const todo: ImageFileTask[] = [];
    for (const t of tasks) {
      const rel = t.dest.slice(o.bootRoot.length + 1);
      const ok = await isPresent(t, state.files[rel]);
      if (ok) state.files[rel] = ok;
      else todo.push(t);
    }
    // Parts no task will resume only take space.
    const wanted = new Set(todo.flatMap((t) => [t.part, t.ready]));
    for (const f of await readdir(p.parts)) if (!wanted.has(join(p.parts, f))) await rm(join(p.parts, f), { force: true });
    let need = 0;
    for (const t of todo) need += t.size - (await partSize(t));
    o.onProgress?.({ type: 'plan', files: tasks.length, toFetch: todo.length, bytes: need });
    if (need > 0) {
      const fs = await statfs(o.bootRoot);
      const free = fs.bavail * fs.bsize;
      if (need > free) {
        throw new EdgebootError('E_IMAGE', `not enough free space in ${o.bootRoot}: ${mib(free)} free, the selected images need ${mib(need)} more; nothing was changed`);
      }
    }
    for (const t of tasks) if (!todo.includes(t)) o.onProgress?.({ type: 'done', file: t.label, size: t.size, fetched: false });
    let bytes = 0;
    const failed = new Set<ImageFileTask>();
    const errors = await pool(todo, o.concurrency ?? 2, async (t) => {
      const from = await partSize(t);
      o.onProgress?.({ type: 'start', file: t.label, size: t.size, from });
      try {
        await downloadImageFile(o.client, t, { signal: o.signal, onBytes: (done, size) => o.onProgress?.({ type: 'bytes', file: t.label, done, size }) });
      } catch (err) {
        failed.add(t);
        throw err;
      }
      bytes += t.size - from;
    });
    // Install a selection only when every one of its files is verified: a kernel never lands beside the
    // old initrd. Renames within boot_root need no space, so a full disk cannot stop half-way here.
    const bySelection = new Map<string, ImageFileTask[]>();
    for (const t of todo) {
      const key = t.label.slice(0, t.label.lastIndexOf('/'));
      bySelection.set(key, [...(bySelection.get(key) ?? []), t]);
    }
    for (const [key, group] of bySelection) {
      if (group.some((t) => failed.has(t))) {
        o.log?.warn({ selection: key }, 'boot image not installed: not all of its files could be fetched; the previous files stay in place');
        continue;
      }
      for (const t of group) {
        try {
          await installImageFile(t);
        } catch (err) {
          errors.push(err);
          continue;
        }
        const st = await stat(t.dest);
        state.files[t.dest.slice(o.bootRoot.length + 1)] = { sha256: t.sha256, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
        o.onProgress?.({ type: 'done', file: t.label, size: t.size, fetched: true });
        o.log?.info({ file: t.label, size: t.size }, 'boot image file verified and installed');
      }
    }
    const selected = new Set(selections.map(selectionKey));
    if (errors.length > 0) {
      for (const e of errors.slice(1)) o.log?.warn({ err: messageOf(e) }, 'boot image file failed');
      await state.save([...new Set([...state.dirs, ...selected])]);
      throw errors[0];
    }
    const removed: string[] = [];
    const keep: string[] = [];
    for (const dir of state.dirs) {
      if (selected.has(dir)) continue;
      const abs = join(p.images, dir);
      if (o.inUse?.(abs)) {
        keep.push(dir);
        continue;
      }
      await removeDir(abs, p.images);
      state.forgetUnder(`images/${dir}/`);
      removed.push(dir);
      o.onProgress?.({ type: 'removed', dir });
      o.log?.info({ dir }, 'boot image no longer selected; removed');
    }
    await state.save([...selected, ...keep]);
    return { files: tasks.length, fetched: todo.length, bytes, removed };
  } finally {
    await unlock();
  }
}

/** The on-disk state of every selected file (sizes and hashes checked), plus managed directories no longer selected. */
export async function listImages(selections: readonly BootSelection[], bootRoot: string): Promise<{ files: ImageFileStatus[]; stale: string[] }> {
  const p = imagePaths(bootRoot);
  const state = await ImageState.load(p.staging);
  const files: ImageFileStatus[] = [];
  for (const t of planImages(selections, bootRoot)) {
    const ok = await isPresent(t, state.files[t.dest.slice(bootRoot.length + 1)]);
    const exists = await stat(t.dest).then(
      () => true,
      () => false,
    );
    files.push({ file: t.label, dest: t.dest, size: t.size, state: ok ? 'ok' : exists ? 'differs' : 'missing' });
  }
  const selected = new Set(selections.map(selectionKey));
  return { files, stale: state.dirs.filter((d) => !selected.has(d)) };
}
