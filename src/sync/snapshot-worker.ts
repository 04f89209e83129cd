/**
 * worker_threads entry: JSON-parses and validates a region snapshot off the main thread, then hands the
 * normalised nodes back in chunks, one per request, so the main thread never deserialises much at once.
 * A node identical to one of the previous load (same digest) travels as that node's index: the main thread
 * keeps its object instead of building a new one. Token parts travel as plain strings (a Secret does not
 * survive structured clone); nothing is logged here.
 */
import { hash } from 'node:crypto';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { hasCode, messageOf } from '../core/errors.js';
import { DIGEST_BYTES, type WorkerInput, type WorkerReply } from './snapshot-loader.js';
import { type PlainNode, type PlainSnapshot, plainSnapshotSteps } from './snapshot-schema.js';

const input = workerData as WorkerInput;

// On Linux a nice value is per thread: this one yields the CPU to the main thread, which answers boot lookups.
try {
  setPriority(0, input.nice);
} catch {
  // Not permitted or not supported: run at the process's own priority.
}
const port = parentPort!;
const send = (m: WorkerReply, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);

function check(): PlainSnapshot | undefined {
  let doc: unknown;
  try {
    const bytes = Buffer.from(input.body.buffer, input.body.byteOffset, input.body.byteLength);
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    send({ type: 'error', kind: 'json', message: messageOf(err) });
    return undefined;
  }
  try {
    const steps = plainSnapshotSteps(doc, input.where, Number.MAX_SAFE_INTEGER);
    let r = steps.next();
    while (!r.done) r = steps.next();
    return r.value;
  } catch (err) {
    send({ type: 'error', kind: hasCode(err, 'E_SNAPSHOT') ? 'snapshot' : 'other', message: messageOf(err) });
    return undefined;
  }
}

/** Digest of every node (its normalised form, token included), DIGEST_BYTES each, in node order. */
function digestsOf(nodes: PlainNode[]): Uint8Array {
  const out = new Uint8Array(nodes.length * DIGEST_BYTES);
  for (let i = 0; i < nodes.length; i++) {
    const d = hash('sha256', JSON.stringify(nodes[i]), 'buffer');
    out.set(d.subarray(0, DIGEST_BYTES), i * DIGEST_BYTES);
  }
  return out;
}

function keyAt(digests: Uint8Array, i: number): string {
  return Buffer.from(digests.buffer, digests.byteOffset + i * DIGEST_BYTES, DIGEST_BYTES).toString('latin1');
}

const snapshot = check();
if (snapshot) {
  const { nodes, ...head } = snapshot;
  const digests = digestsOf(nodes);
  const known = new Map<string, number>();
  const prev = input.known;
  if (prev) for (let i = 0; i < prev.byteLength / DIGEST_BYTES; i++) known.set(keyAt(prev, i), i);
  let at = 0;
  port.on('message', () => {
    const chunk: Array<PlainNode | number> = [];
    for (const end = Math.min(nodes.length, at + input.chunkNodes); at < end; at++) chunk.push(known.get(keyAt(digests, at)) ?? nodes[at]!);
    send({ type: 'nodes', nodes: chunk });
  });
  send({ type: 'head', head, total: nodes.length, digests: digests.slice() }, undefined);
}
