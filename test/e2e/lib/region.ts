import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Netns } from './netns.js';
import { edgebootCli } from './paths.js';
import type { ManagedProcess } from './process.js';
import { waitFor } from './wait.js';

/** Options for `startRegion`. */
export interface RegionOptions {
  ns: Netns;
  /** Folder for the inventory, tokens and log (`<dir>/inventory.yaml`, `tokens.yaml`, `region.log`). */
  dir: string;
  /** The region's inventory document (`{ nodes, config, boot_selections }`). */
  inventory: Record<string, unknown>;
  /** cluster_id → token. */
  clusters: Record<string, string>;
  /** Default 5240. */
  port?: number;
  /** `--state-dir`: the region keeps its revision feed's state there and answers deltas after a restart. */
  stateDir?: string;
  /** `--database`: the region keeps its state in PostgreSQL; the inventory is imported at start (nodes it lacks). */
  database?: string;
}

/** A reference region (`edgeboot region`) running in the namespace, killable and restartable by PID. */
export interface RegionRun {
  url: string;
  inventoryFile: string;
  logFile: string;
  /** The process running now (replaced by `start`). */
  process: ManagedProcess;
  /** SIGKILL the region's process group (as if the machine died), wait for it to be gone. */
  kill(): Promise<void>;
  /** Start it again with the same files; resolves once /healthz answers. */
  start(): Promise<void>;
  /** Replace the inventory file (the region reads it at start, or picks it up while running; with a database, imports it at start). */
  writeInventory(inventory: Record<string, unknown>): Promise<void>;
  log(): Promise<string>;
}

/** Write inventory + tokens into `dir` and start `edgeboot region` in the namespace on `<serverIp>:<port>`. */
export async function startRegion(o: RegionOptions): Promise<RegionRun> {
  await mkdir(o.dir, { recursive: true });
  const inventoryFile = join(o.dir, 'inventory.yaml');
  const tokensFile = join(o.dir, 'tokens.yaml');
  const logFile = join(o.dir, 'region.log');
  await writeFile(inventoryFile, stringify(o.inventory));
  await writeFile(tokensFile, stringify({ clusters: o.clusters }), { mode: 0o600 });
  const url = `http://${o.ns.serverIp}:${o.port ?? 5240}`;
  const args = [edgebootCli(), 'region', '--inventory', inventoryFile, '--tokens', tokensFile, '--listen', `${o.ns.serverIp}:${o.port ?? 5240}`];
  if (o.stateDir) args.push('--state-dir', o.stateDir);
  if (o.database) args.push('--database', o.database);
  const log = () => readFile(logFile, 'utf8').catch(() => '');
  const run: RegionRun = {
    url,
    inventoryFile,
    logFile,
    process: undefined as unknown as ManagedProcess,
    async kill() {
      const p = run.process;
      if (!p.hasExited()) process.kill(-p.pid, 'SIGKILL');
      await p.exited;
    },
    async start() {
      const p = o.ns.spawn('region', process.execPath, args, logFile);
      run.process = p;
      await waitFor('the region /healthz', 30_000, async () => {
        if (p.hasExited()) throw new Error(`the region exited before it was healthy:\n${await log()}`);
        return (await o.ns.exec('curl', ['-fsS', '--max-time', '2', '-o', '/dev/null', `${url}/healthz`], { allowFailure: true })).code === 0;
      });
    },
    async writeInventory(inventory) {
      await writeFile(inventoryFile, stringify(inventory));
    },
    log,
  };
  await run.start();
  return run;
}
