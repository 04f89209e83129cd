import { z } from 'zod';
import { EdgebootError } from '../core/errors.js';
import { type MacAddress, tryParseMac } from '../core/mac.js';
import { DEFAULT_CLUSTER_CONFIG, type Node, type Snapshot } from '../core/node.js';
import { Secret } from '../core/secret.js';
import { tryParseUuid } from '../core/uuid.js';

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
  })
  .partial();

const bootFileSchema = z.object({
  name: z.enum(['kernel', 'initrd', 'squashfs']),
  path: z.string().regex(/^[A-Za-z0-9._/-]+$/, 'must be a relative path of safe characters').refine((p) => !p.split('/').includes('..'), {
    message: 'must not contain ..',
  }),
  size: z.number().int().nonnegative().optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/i, 'must be 64 hex digits').optional(),
});

const selectionSchema = z.object({
  os: word,
  release: word,
  arches: z.array(word).min(1),
  subarches: z.array(word).default(['generic']),
  labels: z.array(word).default(['stable']),
  files: z.array(bootFileSchema).default([]),
});

/** The wire/inventory shape of a snapshot, before normalisation. */
export const rawSnapshotSchema = z.object({
  version: z.union([z.string(), z.number()]).optional(),
  nodes: z.array(nodeSchema).default([]),
  config: configSchema.default({}),
  boot_selections: z.array(selectionSchema).default([]),
});

/** The raw (snake_case) shape a region or inventory file supplies. */
export type RawSnapshot = z.input<typeof rawSnapshotSchema>;

/** Render a zod issue path as `nodes[3].macs[0]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    out += typeof seg === 'number' ? `[${seg}]` : out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out || '(top level)';
}

/**
 * Validate a whole snapshot and normalise it (MACs, UUIDs, arch/subarch, secrets).
 * Every problem is reported at once, each with its path; a bad snapshot is never half-used.
 */
export function parseSnapshot(input: unknown, where: string): Snapshot {
  const result = rawSnapshotSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw new EdgebootError('E_SNAPSHOT', `${where} is invalid: ${lines.join('; ')}`);
  }
  const raw = result.data;
  const problems: string[] = [];
  const seenMac = new Map<MacAddress, string>();
  const seenId = new Set<string>();
  const seenUuid = new Map<string, string>();
  const nodes: Node[] = raw.nodes.map((n, i) => {
    const macs = n.macs.map((m) => tryParseMac(m)!);
    for (const [j, mac] of macs.entries()) {
      const other = seenMac.get(mac);
      if (other !== undefined && other !== n.system_id) {
        problems.push(`nodes[${i}].macs[${j}]: ${mac} already belongs to node ${other}`);
      }
      seenMac.set(mac, n.system_id);
    }
    if (seenId.has(n.system_id)) problems.push(`nodes[${i}].system_id: ${n.system_id} appears twice`);
    seenId.add(n.system_id);
    const uuid = tryParseUuid(n.uuid ?? undefined);
    if (uuid) {
      const other = seenUuid.get(uuid);
      if (other !== undefined) problems.push(`nodes[${i}].uuid: ${uuid} already belongs to node ${other}`);
      seenUuid.set(uuid, n.system_id);
    }
    const [arch, subarch] = n.arch.split('/') as [string, string | undefined];
    const node: Node = {
      systemId: n.system_id,
      hostname: n.hostname,
      macs,
      arch: arch.toLowerCase(),
      subarch: (subarch ?? 'generic').toLowerCase(),
      status: n.status.toLowerCase(),
      osystem: (n.osystem ?? 'ubuntu').toLowerCase(),
      release: (n.release ?? '').toLowerCase(),
      kernelOpts: n.kernel_opts ?? '',
    };
    if (uuid) node.uuid = uuid;
    if (n.status_reason) node.statusReason = n.status_reason;
    if (n.token) {
      node.token = {
        consumerKey: new Secret(n.token.consumer_key),
        tokenKey: new Secret(n.token.token_key),
        tokenSecret: new Secret(n.token.token_secret),
      };
    }
    return node;
  });
  if (problems.length > 0) throw new EdgebootError('E_SNAPSHOT', `${where} is invalid: ${problems.join('; ')}`);
  const c = raw.config;
  return {
    version: raw.version === undefined ? '' : String(raw.version),
    nodes,
    config: {
      mainArchive: c.main_archive || DEFAULT_CLUSTER_CONFIG.mainArchive,
      portsArchive: c.ports_archive || DEFAULT_CLUSTER_CONFIG.portsArchive,
      debianArchive: c.debian_archive || DEFAULT_CLUSTER_CONFIG.debianArchive,
      httpProxy: c.http_proxy ?? '',
      commissioningOsystem: c.commissioning_osystem ?? DEFAULT_CLUSTER_CONFIG.commissioningOsystem,
      commissioningRelease: c.commissioning_release ?? DEFAULT_CLUSTER_CONFIG.commissioningRelease,
      metadataUrl: c.metadata_url ?? '',
    },
    bootSelections: raw.boot_selections.map((s) => ({
      os: s.os,
      release: s.release,
      arches: s.arches,
      subarches: s.subarches,
      labels: s.labels,
      files: s.files.map((f) => ({ ...f })),
    })),
  };
}
