import { type Config, loadConfig } from '../config/config.js';
import { EdgebootError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import type { BootSelection } from '../core/node.js';
import { type ImageProgress, listImages, syncImages } from '../sync/images/index.js';
import { loadInventory } from '../sync/inventory/index.js';
import { NodeStore } from '../sync/nodes/index.js';
import { type RegionClient, RegionSource } from '../sync/region/index.js';
import { regionClientFromConfig } from '../sync/index.js';
import { selectionKey } from '../contract/index.js';

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}

/** The selections for this cluster: one snapshot fetched from the region, or the inventory's when no region is set. */
async function selectionsFor(config: Config, client: RegionClient | undefined): Promise<BootSelection[]> {
  if (!client) return (await loadInventory(config.inventory)).bootSelections;
  const store = new NodeStore();
  const source = new RegionSource({ client, store, log: createLogger('silent') });
  await source.reload({ throwOnError: true });
  return store.snapshot()?.bootSelections ?? [];
}

/** Renders sync progress: one redrawn bar on a terminal, one plain line per event otherwise. */
export class ProgressPrinter {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  #total = 0;
  #files = 0;
  #finished = 0;
  readonly #done = new Map<string, number>();
  #current = '';
  #lastDraw = 0;

  constructor(out: NodeJS.WriteStream = process.stdout) {
    this.#out = out;
    this.#tty = Boolean(out.isTTY);
  }

  /** Take one progress event. */
  on(e: ImageProgress): void {
    switch (e.type) {
      case 'plan':
        this.#total = e.bytes;
        this.#files = e.toFetch;
        this.#line(e.toFetch === 0 ? `all ${e.files} selected files are in place` : `${e.toFetch} of ${e.files} files to fetch, ${mib(e.bytes)}`);
        break;
      case 'start':
        this.#current = e.file;
        this.#done.set(e.file, 0);
        if (!this.#tty) this.#line(`fetch ${e.file} (${mib(e.size)}${e.from ? `, resuming at ${mib(e.from)}` : ''})`);
        break;
      case 'bytes':
        this.#done.set(e.file, e.done);
        this.#draw(false);
        break;
      case 'done':
        if (e.fetched) {
          this.#finished++;
          this.#line(`ok    ${e.file} (${mib(e.size)}, sha256 verified)`);
        }
        break;
      case 'removed':
        this.#line(`removed ${e.dir} (no longer selected)`);
        break;
    }
  }

  #line(text: string): void {
    if (this.#tty) this.#out.write('\r\x1b[K');
    this.#out.write(`${text}\n`);
    this.#draw(true);
  }

  #draw(force: boolean): void {
    if (!this.#tty || this.#files === 0 || this.#finished >= this.#files) return;
    const now = Date.now();
    if (!force && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    let done = 0;
    for (const d of this.#done.values()) done += d;
    const frac = this.#total > 0 ? Math.min(1, done / this.#total) : 0;
    const width = 30;
    const fill = Math.round(frac * width);
    const bar = `${'='.repeat(fill)}${fill < width ? '>' : ''}${' '.repeat(Math.max(0, width - fill - 1))}`;
    this.#out.write(`\r\x1b[K[${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${mib(done)}/${mib(this.#total)} ${this.#finished}/${this.#files} ${this.#current}`);
  }

  /** End the bar line. */
  close(): void {
    if (this.#tty) this.#out.write('\r\x1b[K');
  }
}

/** `edgeboot images list|sync`. */
export async function runImages(v: Record<string, unknown>, configPath: string, args: string[]): Promise<number> {
  const sub = args[0] ?? 'list';
  if (args.length > 1 || !['list', 'sync'].includes(sub)) {
    process.stderr.write('usage: edgeboot images list | sync [--config FILE]\n');
    return 2;
  }
  const config = loadConfig(configPath);
  if (sub === 'sync' && !config.region) {
    throw new EdgebootError('E_REGION', 'images sync needs a region block in the config (region.url, cluster_id, token_file): images come from the region');
  }
  const client = config.region ? regionClientFromConfig(config.region) : undefined;
  try {
    const selections = await selectionsFor(config, client);
    if (sub === 'list') {
      const { files, stale } = await listImages(selections, config.boot_root);
      if (v.json) {
        process.stdout.write(`${JSON.stringify({ files, stale }, null, 2)}\n`);
        return 0;
      }
      if (selections.length === 0) process.stdout.write('no boot images are selected for this cluster\n');
      for (const sel of selections.filter((x) => x.files.length === 0)) {
        process.stdout.write(`-       ${selectionKey(sel)} is selected but names no files (nothing to fetch)\n`);
      }
      for (const f of files) process.stdout.write(`${f.state.padEnd(8)}${f.file}  ${mib(f.size)}\n`);
      for (const d of stale) process.stdout.write(`stale   ${d} (no longer selected; removed by the next sync)\n`);
      return files.every((f) => f.state === 'ok') ? 0 : 1;
    }
    const printer = new ProgressPrinter();
    try {
      const r = await syncImages(selections, {
        client: client!,
        bootRoot: config.boot_root,
        concurrency: config.images.concurrency,
        onProgress: (e) => printer.on(e),
      });
      printer.close();
      process.stdout.write(`images in sync: ${r.files} files, ${r.fetched} fetched (${mib(r.bytes)}), ${r.removed.length} removed\n`);
    } finally {
      printer.close();
    }
    return 0;
  } finally {
    client?.close();
  }
}
