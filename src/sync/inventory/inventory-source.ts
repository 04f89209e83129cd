import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { EdgebootError, messageOf } from '../../core/errors.js';
import type { Node, Snapshot } from '../../core/node.js';
import type { NodeQuery, NodeSource, NodeStore } from '../nodes/index.js';
import { parseSnapshot } from '../../contract/index.js';

const INVENTORY_FILE = /\.(ya?ml|json)$/i;

/** Options for the embedded "region": inventory files on disk. */
export interface InventorySourceOptions {
  path: string;
  store: NodeStore;
  log: Logger;
  watch?: boolean;
  debounceMs?: number;
  /** How often the files are also stat'ed for changes the watcher missed (NFS has no inotify); 0 = never. */
  pollMs?: number;
}

async function readOne(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return file.toLowerCase().endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new EdgebootError('E_INVENTORY', `${file} does not parse: ${messageOf(err).split('\n')[0]}`, { cause: err });
  }
}

/** Merge several inventory documents: nodes and selections concatenate, config keys overlay in file-name order. */
function merge(docs: Array<{ file: string; doc: unknown }>): unknown {
  const out = { nodes: [] as unknown[], config: {} as Record<string, unknown>, boot_selections: [] as unknown[] };
  for (const { file, doc } of docs) {
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      throw new EdgebootError('E_INVENTORY', `${file} must hold a mapping with nodes/config/boot_selections.`);
    }
    const d = doc as Record<string, unknown>;
    for (const key of Object.keys(d)) {
      if (!['nodes', 'config', 'boot_selections', 'version'].includes(key)) {
        throw new EdgebootError('E_INVENTORY', `${file}: unknown top-level key "${key}".`);
      }
    }
    if (d.nodes !== undefined) {
      if (!Array.isArray(d.nodes)) throw new EdgebootError('E_INVENTORY', `${file}: nodes must be a list.`);
      out.nodes.push(...d.nodes);
    }
    if (d.boot_selections !== undefined) {
      if (!Array.isArray(d.boot_selections)) throw new EdgebootError('E_INVENTORY', `${file}: boot_selections must be a list.`);
      out.boot_selections.push(...d.boot_selections);
    }
    if (d.config !== undefined) {
      if (typeof d.config !== 'object' || d.config === null || Array.isArray(d.config)) {
        throw new EdgebootError('E_INVENTORY', `${file}: config must be a mapping.`);
      }
      Object.assign(out.config, d.config);
    }
  }
  return out;
}

/** The inventory's files: the path itself, or the YAML/JSON files of a directory in name order. */
async function inventoryFiles(path: string, info: Awaited<ReturnType<typeof stat>>): Promise<string[]> {
  if (!info.isDirectory()) return [path];
  return (await readdir(path))
    .filter((f) => INVENTORY_FILE.test(f) && !f.startsWith('.'))
    .sort()
    .map((f) => join(path, f));
}

/** A cheap signature of the inventory on disk (each file's size, mtime and inode), to notice edits without reading them. */
export async function inventorySignature(path: string): Promise<string> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    return 'missing';
  }
  const parts: string[] = [];
  for (const file of await inventoryFiles(path, info).catch(() => [])) {
    try {
      const st = await stat(file);
      parts.push(`${file}:${st.size}:${st.mtimeMs}:${st.ino}`);
    } catch {
      parts.push(`${file}:gone`);
    }
  }
  return parts.join('|');
}

/** Read and validate the whole inventory (one file or a directory of them) into a snapshot. */
export async function loadInventory(path: string): Promise<Snapshot> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (err) {
    throw new EdgebootError('E_INVENTORY', `inventory ${path} cannot be read: ${messageOf(err)}`, { cause: err });
  }
  const files = await inventoryFiles(path, info);
  const docs = [];
  for (const file of files) docs.push({ file, doc: await readOne(file) });
  const snapshot = parseSnapshot(merge(docs), `inventory ${path}`);
  if (!snapshot.version) snapshot.version = `mtime-${Math.floor(info.mtimeMs)}`;
  return snapshot;
}

/** Inventory files as the node source: loads, validates, swaps into the store, and follows edits. */
export class InventorySource implements NodeSource {
  readonly #opts: InventorySourceOptions;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #signature = '';
  #reloading: Promise<void> = Promise.resolve();
  /** The last load error, cleared by a good load. */
  lastError: string | undefined;

  constructor(opts: InventorySourceOptions) {
    this.#opts = opts;
  }

  /** Load once (throws when the very first load fails), then watch. */
  async start(): Promise<void> {
    await this.reload({ throwOnError: true });
    if (this.#opts.watch !== false) {
      this.#watcher = watch(this.#opts.path, { ignoreInitial: true, awaitWriteFinish: false });
      const kick = () => this.#schedule();
      this.#watcher.on('add', kick).on('change', kick).on('unlink', kick);
      this.#watcher.on('error', (err) => this.#opts.log.warn({ err: messageOf(err) }, 'inventory watcher error'));
      await new Promise<void>((resolve) => this.#watcher!.once('ready', () => resolve()));
      // The watcher is the fast path; the poll catches what it misses (NFS, coalesced events).
      const pollMs = this.#opts.pollMs ?? 2000;
      if (pollMs > 0) {
        this.#poll = setInterval(() => {
          void inventorySignature(this.#opts.path).then((sig) => {
            if (sig !== this.#signature) this.#schedule();
          });
        }, pollMs);
        this.#poll.unref();
      }
    }
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.reload(), this.#opts.debounceMs ?? 150);
  }

  /** Re-read the inventory; a bad read is logged and the last good snapshot stays. */
  reload(options: { throwOnError?: boolean } = {}): Promise<void> {
    const run = this.#reloading.then(async () => {
      // Taken before reading: an edit during the load changes it again and is picked up by the next poll.
      this.#signature = await inventorySignature(this.#opts.path);
      try {
        const snapshot = await loadInventory(this.#opts.path);
        this.#opts.store.swap(snapshot, `inventory:${this.#opts.path}`);
        this.lastError = undefined;
        this.#opts.log.info({ nodes: snapshot.nodes.length, version: snapshot.version }, 'inventory loaded');
      } catch (err) {
        this.lastError = messageOf(err);
        if (options.throwOnError) throw err;
        this.#opts.log.error(
          { err: this.lastError, kept: this.#opts.store.status().version },
          'inventory rejected; keeping the last good snapshot',
        );
      }
    });
    // The chain must survive a failed first load, so later reloads still run.
    this.#reloading = run.catch(() => undefined);
    return run;
  }

  async lookup(q: NodeQuery): Promise<Node | undefined> {
    return this.#opts.store.find(q);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    clearInterval(this.#poll);
    await this.#watcher?.close();
  }
}
