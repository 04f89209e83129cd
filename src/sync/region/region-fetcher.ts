import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type ChildProcess, fork } from 'node:child_process';
import { messageOf } from '../../core/errors.js';
import type { Node } from '../../core/node.js';
import { lookUp, type NodeIndexTables } from '../../core/node-index.js';
import type { RegionClient, RegionClientOptions } from './region-client.js';
import { RegionError } from './region-error.js';
import { type LoadedSnapshot, loadSnapshot } from '../snapshot/index.js';
import type { RegionWorkerInput, RegionWorkerReply, RegionWorkerRequest } from './helper/protocol.js';
import { sealNodeLike } from '../../contract/index.js';

/** One snapshot request as the follower asks it. */
export interface SnapshotPoll {
  etag?: string;
  waitSeconds: number;
  /** How the snapshot is named in errors, e.g. `region snapshot from https://… (cluster rack-a)`. */
  where: string;
  /** The load in force: its unchanged nodes are reused as they are rather than rebuilt on the main thread. */
  previous?: LoadedSnapshot;
  signal?: AbortSignal;
  /** Which of the region's replicas to ask (index into region.url's list). */
  replica?: number;
}

/** What a poll found: nothing new (304), or a validated snapshot. Failures throw RegionError. */
export type PollResult = { kind: 'unchanged' } | { kind: 'changed'; etag: string | undefined; bytes: number; loaded: LoadedSnapshot };

/** Fetches, parses and validates region snapshots for RegionSource. */
export interface SnapshotFetcher {
  poll(p: SnapshotPoll): Promise<PollResult>;
  /** Forget connections and credentials; the next poll reads the token and CA files again. */
  reset(): void;
  close(): void;
}

// Where SCHED_IDLE cannot be had, nice 19 is the next best: the helper takes idle CPU, edgeboot's threads win.
const HELPER_NICE = 19;
const CHRT = '/usr/bin/chrt';
const BESIDE = new URL('./helper/region-worker.js', import.meta.url);

/**
 * The helper script: beside this module in the built tree; EDGEBOOT_REGION_HELPER names it when this module
 * runs from TypeScript source (the test suite points it at the build). Undefined when there is none.
 */
export function defaultRegionWorkerUrl(): URL | undefined {
  const named = process.env.EDGEBOOT_REGION_HELPER;
  if (named) return pathToFileURL(named);
  return BESIDE.protocol === 'file:' && existsSync(fileURLToPath(BESIDE)) ? BESIDE : undefined;
}

/** How the fetcher reports what an operator should know (the helper could not lower its priority). */
export type FetcherWarn = (message: string) => void;

/** The fetcher for a client: the region helper process when the built script is there, else this thread. */
export function snapshotFetcher(client: RegionClient, options: { warn?: FetcherWarn } = {}): SnapshotFetcher {
  const url = defaultRegionWorkerUrl();
  return url ? new HelperSnapshotFetcher(client.options, url, options) : new InlineSnapshotFetcher(client);
}

const aborted = () => Object.assign(new Error('snapshot request aborted'), { name: 'AbortError' });

/**
 * The snapshot link in a helper process (region-worker.ts) started under SCHED_IDLE (util-linux `chrt`),
 * so that it and all its threads, V8's collector and compiler threads included, only ever take CPU time
 * nobody else wants and give it up the moment edgeboot's own threads wake. Connection, transfer, JSON
 * parse, validation, digests and the lookup tables happen there; this process receives the tables and
 * only the changed nodes, `chunkNodes` at a time, one chunk in flight. One helper serves every poll (its
 * connection is kept alive); it is replaced when it dies, when a poll is aborted and on reset().
 */
export class HelperSnapshotFetcher implements SnapshotFetcher {
  readonly #input: RegionWorkerInput;
  readonly #script: string;
  readonly #warn: FetcherWarn | undefined;
  #helper: Promise<ChildProcess> | undefined;
  #current: ChildProcess | undefined;
  #useChrt = existsSync(CHRT);
  #warned = false;

  constructor(client: RegionClientOptions, url: URL, options: { chunkNodes?: number; warn?: FetcherWarn } = {}) {
    this.#input = { client, chunkNodes: Math.max(1, options.chunkNodes ?? 250), nice: HELPER_NICE };
    this.#script = fileURLToPath(url);
    this.#warn = options.warn;
  }

  /** The helper's process id while one runs (for tests and benchmarks). */
  get pid(): number | undefined {
    return this.#current?.pid;
  }

  #note(message: string): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#warn?.(message);
  }

  /** Start a helper and wait for its `ready`; without chrt (or when chrt is refused) it runs at nice 19. */
  #start(chrt: boolean): Promise<ChildProcess> {
    // execArgv: no inherited --inspect or heap flags. --expose-gc lets the helper hand memory back after a load;
    // a 1 MiB semi-space keeps its young generation (and so its resident size) small, and a fixed mmap threshold
    // stops glibc from keeping a snapshot-sized buffer in its heap once freed (helper: ≈ 85 MiB idle, not ≈ 190).
    const node = [process.execPath, '--expose-gc', '--max-semi-space-size=1'];
    const helper = fork(this.#script, [], {
      serialization: 'advanced',
      execPath: chrt ? CHRT : process.execPath,
      execArgv: chrt ? ['--idle', '0', ...node] : node.slice(1),
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' },
      // stderr stays attached so a crash of the helper (or chrt's refusal) reaches the journal.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.#current = helper;
    return new Promise<ChildProcess>((resolve, reject) => {
      const onMessage = (m: RegionWorkerReply) => {
        if (m.type !== 'ready') return;
        helper.off('exit', onExit);
        helper.off('message', onMessage);
        if (!m.idle) this.#note(`the region helper runs at ${m.niced ? 'nice 19' : 'normal priority'} instead of SCHED_IDLE; a snapshot reload may slow boot answers on a busy machine`);
        resolve(helper);
      };
      const onExit = (code: number | null) => reject(new Error(`the region helper exited before it was ready (${code ?? 'signal'})`));
      helper.on('error', () => undefined);
      helper.on('message', onMessage);
      helper.once('exit', onExit);
      // A helper that dies is forgotten; the next poll starts another.
      helper.once('exit', () => this.#current === helper && this.reset());
      helper.send({ type: 'init', input: this.#input } satisfies RegionWorkerRequest);
    });
  }

  #spawn(): Promise<ChildProcess> {
    this.#helper ??= this.#start(this.#useChrt).catch(() => {
      // chrt refused (e.g. a seccomp filter without sched_setscheduler): run the helper without it.
      this.#useChrt = false;
      return this.#start(false);
    });
    const pending = this.#helper;
    pending.catch(() => this.#helper === pending && this.reset());
    return pending;
  }

  reset(): void {
    const h = this.#current;
    this.#helper = undefined;
    this.#current = undefined;
    if (h && h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
  }

  close(): void {
    this.reset();
  }

  async poll(p: SnapshotPoll): Promise<PollResult> {
    if (p.signal?.aborted) throw aborted();
    let helper: ChildProcess;
    try {
      helper = await this.#spawn();
    } catch (err) {
      throw new RegionError('helper', `${p.where} cannot be fetched: ${messageOf(err)}`);
    }
    if (p.signal?.aborted) throw aborted();
    // Runs name positions in the load in force; a changed node shares every equal field with the node of the
    // same system_id there.
    const inForce = p.previous?.snapshot.nodes ?? [];
    const byId = p.previous?.tables?.systemId;
    const prevById = (id: string) => {
      const at = byId ? lookUp(byId, id, (pos) => inForce[pos]!.systemId === id) : -1;
      return at < 0 ? undefined : inForce[at];
    };
    return new Promise<PollResult>((resolve, reject) => {
      let head: Extract<RegionWorkerReply, { type: 'head' }> | undefined;
      let tables: NodeIndexTables | undefined;
      const nodes: Node[] = [];
      // While every node so far is unchanged and in its place, nothing is built: `covered` counts them, and if
      // that holds to the end the node list in force is handed back as it is.
      let inOrder = true;
      let covered = 0;
      let settled = false;
      const finish = (result: PollResult | Error, replace: boolean) => {
        if (settled) return;
        settled = true;
        helper.off('message', onMessage);
        helper.off('exit', onExit);
        helper.unref();
        helper.channel?.unref();
        p.signal?.removeEventListener('abort', onAbort);
        if (replace && this.#current === helper) this.reset();
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      const onMessage = (m: RegionWorkerReply) => {
        if (m.type === 'unchanged') return finish({ kind: 'unchanged' }, false);
        if (m.type === 'error') return finish(new RegionError(m.failure, m.message, { status: m.status }), false);
        if (m.type === 'head') {
          head = m;
          const same = m.sameTables ? p.previous?.tables : undefined;
          if (m.sameTables && !same) return finish(new RegionError('helper', `${p.where} could not be taken in: the region helper lost track of the load in force`), true);
          tables = same ?? { mac: new Int32Array(m.sizes.mac), uuid: new Int32Array(m.sizes.uuid), systemId: new Int32Array(m.sizes.systemId) };
          return ask({ type: 'more' });
        }
        if (m.type !== 'piece' || !head || !tables) return;
        // One piece in flight while this one is taken in: this thread never drains a backlog in one go.
        if (!m.last) ask({ type: 'more' });
        if (m.table) tables[m.table.which].set(m.table.ints, m.table.at);
        if (m.nodes) {
          for (const n of m.nodes) {
            if (Array.isArray(n) && inOrder && n[0] === covered) {
              covered += n[1];
              continue;
            }
            if (inOrder) {
              // The first node out of place: from here on the list is built, starting with what was in place.
              inOrder = false;
              for (let i = 0; i < covered; i++) nodes.push(inForce[i]!);
            }
            if (!Array.isArray(n)) nodes.push(sealNodeLike(n, prevById(n.systemId)));
            else for (let i = n[0], end = n[0] + n[1]; i < end; i++) nodes.push(inForce[i]!);
          }
        }
        if (!m.last) return;
        const total = inOrder ? covered : nodes.length;
        if (total !== head.total) {
          return finish(new RegionError('helper', `${p.where} could not be taken in: the region helper handed over ${total} of ${head.total} nodes`), true);
        }
        const { head: rest, generation, etag, bytes } = head;
        const list = inOrder && covered === inForce.length ? inForce : inOrder ? inForce.slice(0, covered) : nodes;
        finish({ kind: 'changed', etag, bytes, loaded: { snapshot: { ...rest, nodes: list }, generation, tables } }, false);
      };
      const onExit = (code: number | null) =>
        finish(new RegionError('helper', `${p.where} could not be fetched: the region helper stopped (${code ?? 'no exit code'})`), true);
      const onAbort = () => finish(aborted(), true);
      const ask = (m: RegionWorkerRequest) => helper.send(m, (err: Error | null) => err && onExit(null));
      // Held only while a poll is out: an idle link never keeps the process alive.
      helper.ref();
      helper.channel?.ref();
      helper.on('message', onMessage);
      helper.on('exit', onExit);
      p.signal?.addEventListener('abort', onAbort, { once: true });
      ask({ type: 'poll', etag: p.etag, waitSeconds: p.waitSeconds, where: p.where, base: p.previous?.generation, replica: p.replica });
    });
  }
}

/** The snapshot link on this thread (no built worker script, e.g. under vitest): fetch, then parse in slices. */
export class InlineSnapshotFetcher implements SnapshotFetcher {
  readonly #client: RegionClient;

  constructor(client: RegionClient) {
    this.#client = client;
  }

  async poll(p: SnapshotPoll): Promise<PollResult> {
    const answer = await this.#client.fetchSnapshot({ etag: p.etag, waitSeconds: p.waitSeconds, signal: p.signal, replica: p.replica });
    if (answer.kind === 'unchanged') return answer;
    try {
      return { kind: 'changed', etag: answer.etag, bytes: answer.bytes, loaded: await loadSnapshot(answer.body, p.where) };
    } catch (err) {
      throw new RegionError('malformed', messageOf(err), { cause: err });
    }
  }

  reset(): void {
    // This thread's client is the follower's own; RegionSource re-reads its credentials.
  }

  close(): void {
    // The client belongs to the caller.
  }
}
