/**
 * The region helper process: the rack's snapshot link to the region. It owns its own RegionClient (its own
 * keep-alive connection, its own copy of the token, read from the token file here), so a snapshot's bytes
 * are received, JSON-parsed, validated, normalised, digested and indexed (node-index.ts) in this process;
 * the edgeboot process only gets the lookup tables (unless its own still fit) and the nodes that changed, in
 * small pieces, one per request. Nodes identical to those of the load the edgeboot process holds (same
 * digest) travel as runs of positions in it: it keeps those objects instead of building new ones. Failures travel as the RegionError's
 * kind and message (never the token); nothing is logged here.
 *
 * It is a process rather than a worker thread so that all of its threads, V8's garbage collector and
 * compiler threads included, run at a low priority: on a small machine they would otherwise take the CPU
 * from the thread that answers boot requests.
 *
 * Protocol (protocol.ts, over the IPC channel): `init` → `ready`, then per poll: `poll` → `unchanged` |
 * `error` | `head`, then `more` → `piece` until the one marked `last`. The helper lives through many polls
 * (it runs the collector after each hand-over); the edgeboot process replaces it on abort or when it dies,
 * and it exits when the channel closes.
 */
import { createHash, hash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { hasCode, messageOf } from '../../../core/errors.js';
import { define, isJsonObject, walkObjectSteps } from '../../snapshot/index.js';
import { HashSlots, type NodeIndexTables } from '../../../core/node-index.js';
import { RegionClient } from '../region-client.js';
import { RegionError } from '../region-error.js';
import type { RegionWorkerInput, RegionWorkerReply, RegionWorkerRequest } from './protocol.js';
import { type PlainNode, type PlainSnapshot, SnapshotChecker } from '../../../contract/index.js';

/** Whether this process runs under SCHED_IDLE (policy 5, field 41 of /proc/self/stat). */
function isIdlePolicy(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38] === '5';
  } catch {
    return false;
  }
}

/** Lower the priority of every thread of this process (on Linux a nice value is per thread); false if refused. */
function lowerPriority(nice: number): boolean {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    tids = ['0'];
  }
  let ok = true;
  for (const tid of tids) {
    try {
      setPriority(Number(tid), nice);
    } catch {
      ok = false;
    }
  }
  return ok;
}

/** Bytes of node digest kept per node (a truncated SHA-256 of its normalised form). */
const DIGEST_BYTES = 16;

const send = (m: RegionWorkerReply) => process.send!(m);
let input: RegionWorkerInput;
let client: RegionClient;

/** Digests of the previous load's nodes, found by digest: the position of an unchanged node there. */
class KnownNodes {
  readonly #digests: Buffer;
  readonly #slots = new HashSlots();

  constructor(digests: Uint8Array | undefined) {
    this.#digests = digests ? Buffer.from(digests.buffer, digests.byteOffset, digests.byteLength) : Buffer.alloc(0);
    for (let i = 0; i < this.#digests.length / DIGEST_BYTES; i++) this.#slots.add(this.#digests.readInt32LE(i * DIGEST_BYTES), i, () => false);
  }

  /** The previous position of the node with this digest, or -1. */
  find(digest: Buffer): number {
    return this.#slots.find(digest.readInt32LE(0), (p) => this.#digests.compare(digest, 0, DIGEST_BYTES, p * DIGEST_BYTES, (p + 1) * DIGEST_BYTES) === 0);
  }
}

/** A growing byte buffer of node digests, DIGEST_BYTES each, in node order. */
class Digests {
  #buf = new Uint8Array(DIGEST_BYTES * 1024);
  #length = 0;

  push(d: Uint8Array): void {
    if (this.#length + DIGEST_BYTES > this.#buf.length) {
      const grown = new Uint8Array(this.#buf.length * 2);
      grown.set(this.#buf);
      this.#buf = grown;
    }
    this.#buf.set(d.subarray(0, DIGEST_BYTES), this.#length);
    this.#length += DIGEST_BYTES;
  }

  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#length);
  }
}

interface Checked {
  head: Omit<PlainSnapshot, 'nodes'>;
  /** Per node: its position in the previous load when unchanged, else the node. */
  nodes: Array<PlainNode | number>;
  digests: Uint8Array;
  tables: NodeIndexTables;
  /** Digest of every node's keys (MACs, UUID, system_id) in order: equal keys mean equal lookup tables. */
  keys: string;
}

/**
 * Parse and validate a body node by node: each node is parsed on its own, checked, digested and, when the
 * previous load had it unchanged, dropped at once; so the memory this process holds is the changed nodes,
 * not the document.
 */
function check(body: Buffer, where: string, known: KnownNodes): Checked {
  const checker = new SnapshotChecker(where);
  if (!isJsonObject(body)) {
    // Not an object at all: let the schema say what it is instead.
    const doc = JSON.parse(body.toString('utf8')) as unknown;
    checker.finish(doc);
    throw new Error(`${where} is not a JSON object`);
  }
  const digests = new Digests();
  const keys = createHash('sha256');
  const nodes: Array<PlainNode | number> = [];
  const rest: Record<string, unknown> = {};
  let nodesGiven = false;
  const steps = walkObjectSteps(body, {
    value(key, value) {
      if (key === 'nodes') nodesGiven = true;
      define(rest, key, value);
    },
    arrayStart(key) {
      if (key === 'nodes') {
        if (nodesGiven) checker.problem('nodes: given more than once');
        nodesGiven = true;
      } else define(rest, key, []);
    },
    element(key, index, value) {
      if (key !== 'nodes') {
        (rest[key] as unknown[]).push(value);
        return;
      }
      const node = checker.node(value, index);
      if (!node) return;
      const d = hash('sha256', JSON.stringify(node), 'buffer');
      digests.push(d);
      keys.update(`${node.macs.join(',')}|${node.uuid ?? ''}|${node.systemId}\n`);
      const was = known.find(d);
      nodes.push(was >= 0 ? was : node);
    },
  });
  for (let r = steps.next(); !r.done; r = steps.next());
  const head = checker.finish(rest);
  return { head, nodes, digests: digests.bytes(), tables: checker.tables(), keys: keys.digest('base64') };
}

/** Int32s per table piece: a piece is deserialised in one go on the edgeboot process's main thread. */
const PIECE_INTS = 32 * 1024;

/** The snapshot last handed over completely: its generation, its nodes' digests and the digest of its keys. */
let delivered: { generation: string; known: KnownNodes; keys: string } | undefined;
let generations = 0;
type Piece = Extract<RegionWorkerReply, { type: 'piece' }>;
/** What is left to hand over of the snapshot just checked, one piece per `more`. */
let pending: { pieces: Piece[]; at: number; generation: string; digests: Uint8Array; keys: string } | undefined;

/** Drop what the last poll held and give the memory back (the helper is started with --expose-gc). */
function settle(): void {
  pending = undefined;
  setImmediate(() => (globalThis as { gc?: () => void }).gc?.());
}

/**
 * The pieces to hand over: the lookup tables (unless the edgeboot process has equal ones already), then the
 * nodes, where a run of unchanged nodes that were consecutive in the base load travels as [start, count].
 */
function piecesOf(checked: Checked, sameTables: boolean): Piece[] {
  const pieces: Piece[] = [];
  if (!sameTables) {
    for (const which of ['mac', 'uuid', 'systemId'] as const) {
      const t = checked.tables[which];
      for (let at = 0; at < t.length; at += PIECE_INTS) pieces.push({ type: 'piece', table: { which, at, ints: t.slice(at, at + PIECE_INTS) } });
    }
  }
  let items: NonNullable<Piece['nodes']> = [];
  for (const n of checked.nodes) {
    const run = items.at(-1);
    if (typeof n === 'number' && Array.isArray(run) && run[0] + run[1] === n) run[1]++;
    else {
      if (items.length >= input.chunkNodes) {
        pieces.push({ type: 'piece', nodes: items });
        items = [];
      }
      items.push(typeof n === 'number' ? [n, 1] : n);
    }
  }
  if (items.length) pieces.push({ type: 'piece', nodes: items });
  return pieces;
}

async function poll(req: Extract<RegionWorkerRequest, { type: 'poll' }>): Promise<void> {
  pending = undefined;
  let answer;
  try {
    answer = await client.fetchSnapshot({ etag: req.etag, waitSeconds: req.waitSeconds, replica: req.replica });
  } catch (err) {
    const failure = err instanceof RegionError ? err.failure : 'unreachable';
    send({ type: 'error', failure, message: messageOf(err), status: err instanceof RegionError ? err.status : undefined });
    return;
  }
  if (answer.kind === 'unchanged') {
    send({ type: 'unchanged' });
    return;
  }
  // Unchanged nodes are named by position only if the edgeboot process holds the very load they refer to.
  const base = req.base !== undefined && delivered?.generation === req.base ? delivered : undefined;
  const known = base?.known ?? new KnownNodes(undefined);
  let checked: Checked;
  try {
    checked = check(answer.body, req.where, known);
  } catch (err) {
    const message =
      err instanceof SyntaxError
        ? `${req.where} is not JSON: ${err.message}`
        : hasCode(err, 'E_SNAPSHOT')
          ? messageOf(err)
          : `${req.where} could not be checked: ${messageOf(err)}`;
    send({ type: 'error', failure: 'malformed', message });
    settle();
    return;
  }
  const generation = `${process.pid}.${++generations}`;
  const t = checked.tables;
  const sameTables = base?.keys === checked.keys;
  pending = { pieces: piecesOf(checked, sameTables), at: 0, generation, digests: checked.digests, keys: checked.keys };
  // The tables index the nodes in this order, which is the order the edgeboot process rebuilds them in.
  send({
    type: 'head',
    head: checked.head,
    total: checked.nodes.length,
    sizes: { mac: t.mac.length, uuid: t.uuid.length, systemId: t.systemId.length },
    sameTables,
    generation,
    etag: answer.etag,
    bytes: answer.bytes,
  });
}

function more(): void {
  const p = pending;
  if (!p) return;
  const piece = p.pieces[p.at++];
  const last = p.at >= p.pieces.length;
  send({ ...(piece ?? { type: 'piece' }), last });
  if (last) {
    delivered = { generation: p.generation, known: new KnownNodes(p.digests), keys: p.keys };
    settle();
  }
}

process.on('message', (m: RegionWorkerRequest) => {
  if (m.type === 'init') {
    input = m.input;
    client = new RegionClient(input.client);
    send({ type: 'ready', idle: isIdlePolicy(), niced: lowerPriority(input.nice) });
  } else if (m.type === 'more') more();
  else if (m.type === 'poll') void poll(m);
});
// The edgeboot process is gone (or replaced this helper): so is the reason to run.
process.on('disconnect', () => process.exit(0));
