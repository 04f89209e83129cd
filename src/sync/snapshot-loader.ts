import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EdgebootError, messageOf } from '../core/errors.js';
import type { Node, Snapshot } from '../core/node.js';
import { parseJsonInSlices } from './json-slices.js';
import { type PlainNode, type PlainSnapshot, parseSnapshotInSlices, sealNode } from './snapshot-schema.js';

/** What the main thread hands the snapshot worker (as workerData; the body's bytes are transferred). */
export interface WorkerInput {
  body: Uint8Array;
  where: string;
  chunkNodes: number;
  /** Nice value for the worker thread (Linux: per thread), so validation yields the CPU to boot lookups. */
  nice: number;
  /** Digests of the previous load's nodes, in its node order. */
  known?: Uint8Array;
}

/** Bytes of node digest kept per node (a truncated SHA-256 of its normalised form). */
export const DIGEST_BYTES = 16;

/** What the snapshot worker answers: one head (or one error), then one `nodes` message per request. */
export type WorkerReply =
  | { type: 'error'; kind: 'json' | 'snapshot' | 'other'; message: string }
  | { type: 'head'; head: Omit<PlainSnapshot, 'nodes'>; total: number; digests: Uint8Array }
  | { type: 'nodes'; nodes: Array<PlainNode | number> };

/** A loaded snapshot and, from the worker path, the digest of each node (to recognise unchanged nodes next time). */
export interface LoadedSnapshot {
  snapshot: Snapshot;
  digests?: Uint8Array;
}

/** How a snapshot body is turned into a validated Snapshot. */
export interface LoadSnapshotOptions {
  /** Nodes per message from the worker: each message is deserialised on the main thread in one go. */
  chunkNodes?: number;
  /** The worker script; `null` forces the in-thread sliced path. Defaults to snapshot-worker.js beside this module. */
  workerUrl?: URL | null;
  /** The previous load: its unchanged nodes are reused as they are rather than rebuilt on this thread. */
  previous?: LoadedSnapshot;
}

// Linux weights nice 10 at about a tenth of nice 0: the worker takes idle CPU, the main thread wins when both run.
const WORKER_NICE = 10;
const BESIDE = new URL('./snapshot-worker.js', import.meta.url);

/** The built worker script, or undefined when this module runs from TypeScript source (vitest) without one. */
export function defaultWorkerUrl(): URL | undefined {
  return BESIDE.protocol === 'file:' && existsSync(fileURLToPath(BESIDE)) ? BESIDE : undefined;
}

const notJson = (where: string, message: string) => new EdgebootError('E_SNAPSHOT', `${where} is not JSON: ${message}`);

/**
 * Parse, validate and normalise a snapshot body. With the worker script available (the built tree) all of it
 * runs on a worker thread and nodes come back in small chunks; otherwise it runs here in slices. Either way
 * a bad body throws one EdgebootError('E_SNAPSHOT') naming every problem with its path.
 */
export async function loadSnapshot(body: Buffer, where: string, options: LoadSnapshotOptions = {}): Promise<LoadedSnapshot> {
  const url = options.workerUrl === undefined ? defaultWorkerUrl() : options.workerUrl;
  if (url) return loadInWorker(url, body, where, options.chunkNodes ?? 1000, options.previous);
  let doc: unknown;
  try {
    doc = await parseJsonInSlices(body);
  } catch (err) {
    throw notJson(where, messageOf(err));
  }
  return { snapshot: await parseSnapshotInSlices(doc, where) };
}

function loadInWorker(url: URL, body: Buffer, where: string, chunkNodes: number, previous: LoadedSnapshot | undefined): Promise<LoadedSnapshot> {
  // Hand over the bytes without a copy when the Buffer owns its whole ArrayBuffer (large bodies always do).
  const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
  const bytes = own ? new Uint8Array(body.buffer, 0, body.byteLength) : new Uint8Array(body);
  const input: WorkerInput = { body: bytes, where, chunkNodes: Math.max(1, chunkNodes), nice: WORKER_NICE };
  const prevNodes = previous?.digests ? previous.snapshot.nodes : [];
  if (previous?.digests) input.known = previous.digests;
  const worker = new Worker(url, { workerData: input, transferList: [bytes.buffer as ArrayBuffer] });
  return new Promise<LoadedSnapshot>((resolve, reject) => {
    let head: Omit<PlainSnapshot, 'nodes'> | undefined;
    let digests: Uint8Array | undefined;
    let total = 0;
    const nodes: Node[] = [];
    let settled = false;
    const finish = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      if (err) reject(err);
      else resolve({ snapshot: { ...head!, nodes }, digests });
    };
    worker.on('message', (m: WorkerReply) => {
      if (m.type === 'error') {
        finish(m.kind === 'json' ? notJson(where, m.message) : new EdgebootError('E_SNAPSHOT', m.kind === 'snapshot' ? m.message : `${where} could not be checked: ${m.message}`));
        return;
      }
      if (m.type === 'head') {
        head = m.head;
        total = m.total;
        digests = m.digests;
      }
      const got = m.type === 'nodes' ? m.nodes.length : 0;
      // One chunk in flight while this one is sealed: the main thread never drains a backlog in one go.
      if (nodes.length + got < total) worker.postMessage('more');
      if (m.type === 'nodes') for (const n of m.nodes) nodes.push(typeof n === 'number' ? prevNodes[n]! : sealNode(n));
      if (nodes.length >= total) finish(undefined);
    });
    worker.on('error', (err) => finish(new EdgebootError('E_SNAPSHOT', `${where} could not be checked: ${messageOf(err)}`, { cause: err })));
    worker.on('exit', (code) => finish(new EdgebootError('E_SNAPSHOT', `${where} could not be checked: the snapshot worker exited with ${code}`)));
  });
}
