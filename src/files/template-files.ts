import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { messageOf } from '../core/errors.js';
import { isKind, KINDS } from '../render/kinds.js';
import type { TemplateStore } from '../render/template-store.js';

const EXT = '.eta';

/** Load every `<dir>/<kind>/<name>.eta` of each layer into the store, then follow edits (recompile on change). */
export class TemplateFiles {
  readonly #store: TemplateStore;
  readonly #log: Logger;
  readonly #watchers: FSWatcher[] = [];

  constructor(store: TemplateStore, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  /** Read all layers; compile errors are logged (and kept in `store.errors()`), never thrown. */
  async loadAll(): Promise<void> {
    for (const [layer, dir] of this.#store.layers.entries()) {
      for (const kind of KINDS) {
        let names: string[];
        try {
          names = (await readdir(join(dir, kind))).filter((n) => n.endsWith(EXT));
        } catch {
          continue; // A layer need not hold every kind.
        }
        for (const n of names) await this.#loadFile(layer, join(dir, kind, n));
      }
    }
  }

  async #loadFile(layer: number, file: string): Promise<void> {
    const kind = basename(dirname(file));
    if (!isKind(kind) || !file.endsWith(EXT)) return;
    const name = basename(file, EXT);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      this.#log.error({ template: file, err: messageOf(err) }, 'template cannot be read; keeping the last good version');
      return;
    }
    const err = this.#store.put(layer, kind, name, text, file);
    if (err) this.#log.error({ template: file, err: err.message }, 'template rejected; keeping the last good version');
    else this.#log.debug({ template: file }, 'template compiled');
  }

  /** Watch every layer; a change recompiles that one file. */
  async watch(): Promise<void> {
    for (const [layer, dir] of this.#store.layers.entries()) {
      const w = watch(dir, { ignoreInitial: true, depth: 2 });
      const onChange = (file: string) => void this.#loadFile(layer, file);
      w.on('add', onChange).on('change', onChange);
      w.on('unlink', (file: string) => {
        const rel = relative(dir, file).split(sep);
        if (rel.length === 2 && isKind(rel[0]!) && rel[1]!.endsWith(EXT)) {
          this.#store.remove(layer, rel[0]!, basename(rel[1]!, EXT));
          this.#log.info({ template: file }, 'template removed');
        }
      });
      w.on('error', (err) => this.#log.warn({ err: messageOf(err) }, 'template watcher error'));
      await new Promise<void>((resolve) => w.once('ready', () => resolve()));
      this.#watchers.push(w);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#watchers.map((w) => w.close()));
  }
}
