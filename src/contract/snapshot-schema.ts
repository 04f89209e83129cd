import { z } from 'zod';
import { EdgebootError } from '../core/errors.js';
import { tryParseMac } from '../core/mac.js';
import { type BootSelection, DEFAULT_CLUSTER_CONFIG, type Node, type Snapshot } from '../core/node.js';
import { Secret } from '../core/secret.js';
import { tryParseUuid } from '../core/uuid.js';
import { IndexBuilder, type NodeIndexTables } from '../core/node-index.js';

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const WORD = /^[a-z0-9][a-z0-9._+-]*$/i;
// Printable ASCII only: region data ends up inside boot scripts, so control characters never get in.
const PRINTABLE = /^[\x20-\x7e]*$/;

const macField = z.string().refine((v) => tryParseMac(v) !== undefined, { message: 'is not a MAC address' });
const word = z.string().regex(WORD, 'must be a simple name (letters, digits, . _ + -)');
const printable = z.string().regex(PRINTABLE, 'must be printable ASCII on one line');
const url = z.string().refine((v) => v === '' || /^https?:\/\/[^\s]+$/.test(v), { message: 'must be an http(s) URL' });

// Token parts end up inside shell and HTTP headers in answer files: only URL-safe characters.
const tokenPart = z.string().regex(/^[A-Za-z0-9._~+/=-]{1,256}$/, 'must be 1-256 URL-safe characters');
const tokenSchema = z.object({ consumer_key: tokenPart, token_key: tokenPart, token_secret: tokenPart });

const nodeSchema = z.object({
  system_id: word,
  hostname: z.string().regex(HOSTNAME, 'must be a DNS hostname'),
  macs: z.array(macField).min(1, 'must list at least one MAC'),
  uuid: z
    .string()
    .refine((v) => tryParseUuid(v) !== undefined, { message: 'is not a UUID' })
    .optional()
    .nullable(),
  arch: z.string().regex(/^[a-z0-9_]+(\/[a-z0-9_.-]+)?$/i, 'must be arch or arch/subarch'),
  status: word,
  status_reason: printable.optional().nullable(),
  osystem: word.optional().nullable(),
  release: word.optional().nullable(),
  kernel_opts: printable.optional().nullable(),
  token: tokenSchema.optional().nullable(),
  // The region serves a node naming a cluster only to that cluster (and one naming none to every cluster).
  cluster: word.optional().nullable(),
});

const configSchema = z
  .object({
    main_archive: url,
    ports_archive: url,
    debian_archive: url,
    http_proxy: url,
    commissioning_osystem: word,
    commissioning_release: word,
    metadata_url: url,
    kernel_opts: printable,
  })
  .partial();

const bootFileSchema = z.object({
  name: z.enum(['kernel', 'initrd', 'squashfs']),
  path: z
    .string()
    .regex(/^[A-Za-z0-9._/-]+$/, 'must be a relative path of safe characters')
    .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), { message: 'must be relative and must not contain ..' }),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/i, 'must be 64 hex digits'),
});

const files = z
  .array(bootFileSchema)
  .default([])
  .refine((fs) => new Set(fs.map((f) => f.name)).size === fs.length, { message: 'names a file (kernel/initrd/squashfs) twice' });

/** The region API shape: one selection per (os, release, arch, subarch, label), naming its files. */
const selectionSchema = z.object({
  os: word,
  release: word,
  arch: word,
  subarch: word.default('generic'),
  label: word.default('stable'),
  files,
});

/** The compact inventory shape: lists of arches/subarches/labels, expanded to one selection per combination. */
const selectionListSchema = z.object({
  os: word,
  release: word,
  arches: z.array(word).min(1),
  subarches: z.array(word).default(['generic']),
  labels: z.array(word).default(['stable']),
  files,
});

const topSchema = z.object({
  version: z.union([z.string().regex(PRINTABLE, 'must be printable ASCII'), z.number()]).optional(),
  nodes: z.array(z.unknown()).default([]),
  config: configSchema.default({}),
  boot_selections: z.array(z.unknown()).default([]),
});

/** The wire/inventory shape of a snapshot, before normalisation. */
export const rawSnapshotSchema = z.object({
  version: z.union([z.string(), z.number()]).optional(),
  nodes: z.array(nodeSchema).default([]),
  config: configSchema.default({}),
  boot_selections: z.array(z.union([selectionSchema, selectionListSchema])).default([]),
});

/** The raw (snake_case) shape a region or inventory file supplies. */
export type RawSnapshot = z.input<typeof rawSnapshotSchema>;

/** One node in the region API's JSON (snake_case, tokens revealed: the payload goes only to an authenticated rack). */
export type WireNode = z.input<typeof nodeSchema>;

/** One boot selection in the region API's per-combination JSON shape. */
export type WireSelection = z.input<typeof selectionSchema>;

/** The snapshot body of `GET /api/v1/clusters/{id}/snapshot` as the region sends it. */
export type WireSnapshot = { version: string; nodes: WireNode[]; config: z.input<typeof configSchema>; boot_selections: WireSelection[] };

/** Render a zod issue path as `nodes[3].macs[0]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    out += typeof seg === 'number' ? `[${seg}]` : out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out || '(top level)';
}

// A 100,000-node snapshot with every node broken must still give a readable message.
const MAX_PROBLEMS = 50;

class Problems {
  readonly list: string[] = [];
  count = 0;
  add(line: string): void {
    this.count++;
    if (this.list.length < MAX_PROBLEMS) this.list.push(line);
  }
  addIssues(prefix: PropertyKey[], issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): void {
    for (const i of issues) this.add(`${formatPath([...prefix, ...i.path])}: ${i.message}`);
  }
  throwIfAny(where: string): void {
    if (this.count === 0) return;
    const more = this.count > this.list.length ? `; …and ${this.count - this.list.length} more` : '';
    throw new EdgebootError('E_SNAPSHOT', `${where} is invalid: ${this.list.join('; ')}${more}`);
  }
}

type RawNode = z.output<typeof nodeSchema>;

/** A normalised node whose token parts are still plain strings: what crosses a worker_threads boundary. */
export type PlainNode = Omit<Node, 'token'> & { token?: { consumerKey: string; tokenKey: string; tokenSecret: string } };

/** A normalised snapshot whose nodes still hold plain-string tokens (see sealNode). */
export type PlainSnapshot = Omit<Snapshot, 'nodes'> & { nodes: PlainNode[] };

function toPlainNode(n: RawNode): PlainNode {
  const [arch, subarch] = n.arch.split('/') as [string, string | undefined];
  const node: PlainNode = {
    systemId: n.system_id,
    hostname: n.hostname,
    macs: n.macs.map((m) => tryParseMac(m)!),
    arch: arch.toLowerCase(),
    subarch: (subarch ?? 'generic').toLowerCase(),
    status: n.status.toLowerCase(),
    osystem: (n.osystem ?? 'ubuntu').toLowerCase(),
    release: (n.release ?? '').toLowerCase(),
    kernelOpts: n.kernel_opts ?? '',
  };
  const uuid = tryParseUuid(n.uuid ?? undefined);
  if (uuid) node.uuid = uuid;
  if (n.status_reason) node.statusReason = n.status_reason;
  if (n.cluster) node.cluster = n.cluster;
  if (n.token) node.token = { consumerKey: n.token.consumer_key, tokenKey: n.token.token_key, tokenSecret: n.token.token_secret };
  return node;
}

/** Wrap a plain node's token parts in Secret, in place, and give it back as a Node. */
export function sealNode(plain: PlainNode): Node {
  const node = plain as unknown as Node;
  const t = plain.token;
  if (t) node.token = { consumerKey: new Secret(t.consumerKey), tokenKey: new Secret(t.tokenKey), tokenSecret: new Secret(t.tokenSecret) };
  return node;
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * sealNode for a node that changed: wherever a field equals that of `prev` (the node with the same
 * system_id in the load in force), `prev`'s value is kept and the new copy is dropped at once, so a
 * reload in which every node changed one field leaves little more than the node objects to keep. The
 * new node is a new object (`prev` is still being served from); `plain` is consumed.
 */
export function sealNodeLike(plain: PlainNode, prev: Node | undefined): Node {
  if (!prev) return sealNode(plain);
  const t = plain.token;
  const node = plain as unknown as Node;
  if (plain.hostname === prev.hostname) node.hostname = prev.hostname;
  if (sameList(plain.macs, prev.macs)) node.macs = prev.macs;
  if (plain.uuid !== undefined && plain.uuid === prev.uuid) node.uuid = prev.uuid;
  if (plain.arch === prev.arch) node.arch = prev.arch;
  if (plain.subarch === prev.subarch) node.subarch = prev.subarch;
  if (plain.status === prev.status) node.status = prev.status;
  if (plain.statusReason !== undefined && plain.statusReason === prev.statusReason) node.statusReason = prev.statusReason;
  if (plain.osystem === prev.osystem) node.osystem = prev.osystem;
  if (plain.release === prev.release) node.release = prev.release;
  if (plain.kernelOpts === prev.kernelOpts) node.kernelOpts = prev.kernelOpts;
  node.systemId = prev.systemId;
  const p = prev.token;
  if (t && p && t.consumerKey === p.consumerKey.reveal() && t.tokenKey === p.tokenKey.reveal() && t.tokenSecret === p.tokenSecret.reveal()) node.token = p;
  else if (t) sealNode(plain);
  return node;
}

function toSelections(raw: unknown, i: number, problems: Problems): BootSelection[] {
  const isList = typeof raw === 'object' && raw !== null && 'arches' in raw;
  if (isList) {
    const r = selectionListSchema.safeParse(raw);
    if (!r.success) {
      problems.addIssues(['boot_selections', i], r.error.issues);
      return [];
    }
    const s = r.data;
    return s.arches.flatMap((arch) =>
      s.subarches.flatMap((subarch) =>
        s.labels.map((label) => ({ os: s.os, release: s.release, arches: [arch], subarches: [subarch], labels: [label], files: s.files.map((f) => ({ ...f })) })),
      ),
    );
  }
  const r = selectionSchema.safeParse(raw);
  if (!r.success) {
    problems.addIssues(['boot_selections', i], r.error.issues);
    return [];
  }
  const s = r.data;
  return [{ os: s.os, release: s.release, arches: [s.arch], subarches: [s.subarch], labels: [s.label], files: s.files.map((f) => ({ ...f })) }];
}

/** The image directory key of a normalised (single-combination) selection: `os/arch/subarch/release/label`. */
export function selectionKey(s: BootSelection): string {
  return `${s.os}/${s.arches[0]}/${s.subarches[0]}/${s.release}/${s.labels[0]}`;
}

/**
 * Validates a snapshot node by node, then the rest of it; collects every problem (with its path) and
 * throws them together at the end, so a bad snapshot is rejected whole. Duplicate MACs, UUIDs and
 * system_ids are found with the lookup tables the store will use (node-index.ts), which come out as a
 * by-product. Used on a parsed document (plainSnapshotSteps) and on a stream of nodes (the region worker).
 */
export class SnapshotChecker {
  readonly #where: string;
  readonly #problems = new Problems();
  readonly #index = new IndexBuilder();

  constructor(where: string) {
    this.#where = where;
  }

  /** Record a problem found outside the schema (e.g. by the caller's parser). */
  problem(line: string): void {
    this.#problems.add(line);
  }

  /** Validate and normalise `raw`, element `i` of `nodes`; undefined (and the problems noted) when it is bad. */
  node(raw: unknown, i: number): PlainNode | undefined {
    const r = nodeSchema.safeParse(raw);
    if (!r.success) {
      this.#problems.addIssues(['nodes', i], r.error.issues);
      return undefined;
    }
    const node = toPlainNode(r.data);
    const taken = this.#index.add(node);
    taken.macs.forEach((other, j) => {
      if (other >= 0 && this.#index.systemIdAt(other) !== node.systemId) {
        this.#problems.add(`nodes[${i}].macs[${j}]: ${node.macs[j]} already belongs to node ${this.#index.systemIdAt(other)}`);
      }
    });
    if (taken.systemId >= 0) this.#problems.add(`nodes[${i}].system_id: ${node.systemId} appears twice`);
    if (taken.uuid >= 0) this.#problems.add(`nodes[${i}].uuid: ${node.uuid} already belongs to node ${this.#index.systemIdAt(taken.uuid)}`);
    return node;
  }

  /**
   * Check everything but the nodes (`top` is the snapshot object with or without its `nodes`) and throw
   * E_SNAPSHOT listing every problem found so far; otherwise the normalised head.
   */
  finish(top: unknown): Omit<PlainSnapshot, 'nodes'> {
    const parsed = topSchema.safeParse(top);
    if (!parsed.success) {
      this.#problems.addIssues([], parsed.error.issues);
      this.#problems.throwIfAny(this.#where);
    }
    const raw = parsed.data!;
    const bootSelections: BootSelection[] = [];
    const seenSel = new Set<string>();
    raw.boot_selections.forEach((entry, i) => {
      for (const sel of toSelections(entry, i, this.#problems)) {
        const k = selectionKey(sel);
        if (seenSel.has(k)) this.#problems.add(`boot_selections[${i}]: ${k} is selected twice`);
        seenSel.add(k);
        bootSelections.push(sel);
      }
    });
    this.#problems.throwIfAny(this.#where);
    const c = raw.config;
    return {
      version: raw.version === undefined ? '' : String(raw.version),
      config: {
        mainArchive: c.main_archive || DEFAULT_CLUSTER_CONFIG.mainArchive,
        portsArchive: c.ports_archive || DEFAULT_CLUSTER_CONFIG.portsArchive,
        debianArchive: c.debian_archive || DEFAULT_CLUSTER_CONFIG.debianArchive,
        httpProxy: c.http_proxy ?? '',
        commissioningOsystem: c.commissioning_osystem ?? DEFAULT_CLUSTER_CONFIG.commissioningOsystem,
        commissioningRelease: c.commissioning_release ?? DEFAULT_CLUSTER_CONFIG.commissioningRelease,
        metadataUrl: c.metadata_url ?? '',
        kernelOpts: c.kernel_opts ?? '',
      },
      bootSelections,
    };
  }

  /** The lookup tables of the nodes accepted so far, in the order they were given. */
  tables(): NodeIndexTables {
    return this.#index.tables();
  }
}

/**
 * The steps of validating a parsed snapshot; yields after every `slice` nodes so a caller can let other
 * work run. Returns the normalised snapshot with plain-string tokens (sealNode wraps them).
 */
export function* plainSnapshotSteps(input: unknown, where: string, slice = 500): Generator<void, PlainSnapshot> {
  const top = topSchema.safeParse(input);
  if (!top.success) {
    const problems = new Problems();
    problems.addIssues([], top.error.issues);
    problems.throwIfAny(where);
  }
  const { nodes: rawNodes, ...rest } = top.data!;
  const checker = new SnapshotChecker(where);
  const nodes: PlainNode[] = [];
  for (let i = 0; i < rawNodes.length; i++) {
    if (i > 0 && i % slice === 0) yield;
    const node = checker.node(rawNodes[i], i);
    if (node) nodes.push(node);
  }
  return { ...checker.finish(rest), nodes };
}

/** plainSnapshotSteps followed by sealNode of every node (yielding every `slice` nodes there too). */
export function* snapshotSteps(input: unknown, where: string, slice = 500): Generator<void, Snapshot> {
  const plain = yield* plainSnapshotSteps(input, where, slice);
  for (let i = 0; i < plain.nodes.length; i++) {
    if (i > 0 && i % slice === 0) yield;
    sealNode(plain.nodes[i]!);
  }
  return plain as unknown as Snapshot;
}

/**
 * Validate a whole snapshot and normalise it (MACs, UUIDs, arch/subarch, secrets).
 * Every problem is reported at once, each with its path; a bad snapshot is never half-used.
 */
export function parseSnapshot(input: unknown, where: string): Snapshot {
  const steps = snapshotSteps(input, where, Number.MAX_SAFE_INTEGER);
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/** parseSnapshot that yields to the event loop between slices of nodes, so lookups keep being answered. */
export async function parseSnapshotInSlices(input: unknown, where: string, slice = 500): Promise<Snapshot> {
  const steps = snapshotSteps(input, where, slice);
  let r = steps.next();
  while (!r.done) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    r = steps.next();
  }
  return r.value;
}
