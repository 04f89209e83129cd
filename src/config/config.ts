import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { EdgebootError, messageOf } from '../core/errors.js';
import { hasZoneId } from '../core/ip.js';
import { formatPath } from '../contract/index.js';

/** Default config path (the Debian conffile). */
export const DEFAULT_CONFIG_PATH = '/etc/edgeboot/edgeboot.yaml';

/** The package root: two levels above dist/src/config or src/config. */
export function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, here.includes(`${'/dist/'}`) ? '../../..' : '../..');
}

const port = z.number().int().min(0).max(65535);
const regionUrl = z.string().refine((v) => /^https?:\/\/[^\s/?#@]+(\/[^\s?#]*)?$/.test(v), {
  message: 'must be an http(s) URL without credentials or query',
});
const ipOrAuto = z
  .string()
  .refine((v) => !hasZoneId(v), { message: 'must not carry a zone id (after %): clients cannot use one; give a global or unique-local IPv6 address' })
  .refine((v) => v === 'auto' || hasZoneId(v) || isIP(v) !== 0, { message: 'must be "auto" or an IP address' });

const schema = z
  .object({
    // Required unless a region is configured (then the region is the node source).
    inventory: z.string().min(1).optional(),
    boot_root: z.string().min(1),
    template_dirs: z.array(z.string().min(1)).default([]),
    shipped_templates: z.string().min(1).optional(),
    server_address: ipOrAuto.default('auto'),
    loader_dirs: z.array(z.string().min(1)).optional(),
    tftp: z
      .object({
        enabled: z.boolean().default(true),
        port: port.default(69),
        max_transfers: z.number().int().min(1).default(500),
        max_per_client: z.number().int().min(1).default(8),
        max_blksize: z.number().int().min(8).max(65464).default(1468),
        retries: z.number().int().min(1).max(20).default(6),
        max_windowsize: z.number().int().min(1).max(65535).default(64),
        cache_bytes: z.number().int().min(0).default(64 * 1024 * 1024),
      })
      .strict()
      .default({
        enabled: true,
        port: 69,
        max_transfers: 500,
        max_per_client: 8,
        max_blksize: 1468,
        retries: 6,
        max_windowsize: 64,
        cache_bytes: 64 * 1024 * 1024,
      }),
    http: z
      .object({
        port: port.default(5248),
        // "::" is dual stack: IPv6 and IPv4 (as ::ffff:a.b.c.d) on one socket; a host without IPv6 falls back to 0.0.0.0.
        listen: z
          .string()
          .refine((v) => !hasZoneId(v), { message: 'must not carry a zone id (after %); listen on "::" or a global address' })
          .refine((v) => hasZoneId(v) || isIP(v) !== 0, { message: 'must be an IP address ("::" for every address, IPv6 and IPv4)' })
          .default('::'),
        max_streams: z.number().int().min(1).default(200),
        // Boot files held whole in memory for sending (one copy per byte instead of two); 0 turns it off.
        cache_bytes: z.number().int().min(0).default(256 * 1024 * 1024),
        cache_file_bytes: z.number().int().min(0).default(128 * 1024 * 1024),
      })
      .strict()
      .default({ port: 5248, listen: '::', max_streams: 200, cache_bytes: 256 * 1024 * 1024, cache_file_bytes: 128 * 1024 * 1024 }),
    answers: z
      .object({
        key_file: z.string().min(1).default('/var/lib/edgeboot/url-signing.key'),
        ttl_seconds: z.number().int().min(60).default(7200),
        bind_client_ip: z.boolean().default(true),
      })
      .strict()
      .default({ key_file: '/var/lib/edgeboot/url-signing.key', ttl_seconds: 7200, bind_client_ip: true }),
    dhcp: z
      .object({
        proxy: z.boolean().default(false),
        proxy_interfaces: z.array(z.string().min(1)).default([]),
        lease_intake: z.boolean().default(true),
        lease_socket: z.string().min(1).default('/run/edgeboot/lease.sock'),
        /** Default: lease-hook.secret beside answers.key_file (/var/lib/edgeboot/lease-hook.secret when packaged). */
        lease_secret_file: z.string().min(1).optional(),
        lease_hook: z.string().min(1).optional(),
        bios_loader: z.enum(['undionly.kpxe', 'pxelinux.0']).default('undionly.kpxe'),
        uefi_loader: z.enum(['snponly.efi', 'ipxe.efi']).default('snponly.efi'),
        arm64_loader: z.string().min(1).optional(),
        secure_boot: z.boolean().default(false),
      })
      .strict()
      .default({
        proxy: false,
        proxy_interfaces: [],
        lease_intake: true,
        lease_socket: '/run/edgeboot/lease.sock',
        bios_loader: 'undionly.kpxe',
        uefi_loader: 'snponly.efi',
        secure_boot: false,
      }),
    region: z
      .object({
        /** The region's URL, or a list of its replicas (the rack fails over between them). */
        url: z
          .union([regionUrl, z.array(regionUrl).min(1, 'must list at least one region URL').max(16)])
          // One agent (and one CA setting) serves every replica: they share a scheme.
          .refine((v) => typeof v === 'string' || new Set(v.map((u) => u.split(':')[0])).size === 1, {
            message: 'must list URLs of one scheme (all http or all https)',
          }),
        cluster_id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a simple id (letters, digits, . _ -)'),
        token_file: z.string().min(1),
        ca_file: z.string().min(1).optional(),
        wait_seconds: z.number().int().min(0).max(300).default(30),
        backoff_max_seconds: z.number().min(0.1).max(3600).default(30),
        timeout_seconds: z.number().min(1).max(600).default(15),
        event_queue: z.number().int().min(1).max(1_000_000).default(10_000),
        /** Where the last good snapshot is kept (0600) for a start while the region is away. Default: beside answers.key_file. */
        state_dir: z.string().min(1).optional(),
        /** Keep the last good snapshot on disk (it holds node tokens; never any rendered file). */
        persist_snapshot: z.boolean().default(true),
      })
      .strict()
      .optional(),
    images: z
      .object({ sync: z.boolean().default(true), concurrency: z.number().int().min(1).max(16).default(2) })
      .strict()
      .default({ sync: true, concurrency: 2 }),
    wait_retry_seconds: z.number().int().min(1).max(3600).default(15),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

type Raw = z.output<typeof schema>;

/** The validated, frozen configuration with absolute paths. */
export type Config = Readonly<
  Omit<Raw, 'shipped_templates' | 'loader_dirs' | 'inventory'> & {
    shipped_templates: string;
    loader_dirs: string[];
    configPath: string;
    /** The inventory path, or '' when a region is the node source. */
    inventory: string;
  }
>;

/** Where Debian's packages install the boot loaders edgeboot serves by name. */
export const DEBIAN_LOADER_DIRS = [
  '/usr/lib/ipxe',
  '/usr/lib/PXELINUX',
  '/usr/lib/syslinux/modules/bios',
  '/usr/lib/shim',
  '/usr/lib/grub/x86_64-efi-signed',
  '/usr/lib/grub/arm64-efi-signed',
  // Where `edgeboot loaders fetch --arch arm64` unpacks arm64 loaders on an amd64 appliance.
  '/var/lib/edgeboot/loaders/arm64',
];

function leafPaths(s: z.ZodType, prefix: string[] = []): string[][] {
  let inner: z.ZodType = s;
  // Unwrap defaults/optionals to reach the object shape below.
  for (let i = 0; i < 5; i++) {
    const def = (inner as unknown as { def?: { innerType?: z.ZodType } }).def;
    if (def?.innerType) inner = def.innerType;
    else break;
  }
  if (inner instanceof z.ZodObject) {
    return Object.entries(inner.shape).flatMap(([k, v]) => leafPaths(v as z.ZodType, [...prefix, k]));
  }
  return [prefix];
}

/** Apply `EDGEBOOT_<PATH>` overrides (e.g. EDGEBOOT_HTTP_PORT, EDGEBOOT_BOOT_ROOT); values are parsed as YAML. */
export function applyEnv(doc: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const path of leafPaths(schema)) {
    const name = `EDGEBOOT_${path.join('_').toUpperCase()}`;
    const value = env[name];
    if (value === undefined) continue;
    let target = doc;
    for (const seg of path.slice(0, -1)) {
      if (typeof target[seg] !== 'object' || target[seg] === null) target[seg] = {};
      target = target[seg] as Record<string, unknown>;
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(value);
    } catch {
      parsed = value;
    }
    target[path[path.length - 1]!] = parsed;
  }
}

/** Validate a config document; every error is reported at once, each with its path. */
export function parseConfig(doc: unknown, configPath: string): Config {
  const result = schema.safeParse(doc);
  const lines = result.success ? [] : result.error.issues.map((i) => `  ${formatPath(i.path)}: ${i.message}`);
  const d = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  if (d.inventory === undefined && d.region === undefined) {
    lines.unshift('  inventory: set inventory (a YAML/JSON file or directory) or region (url, cluster_id, token_file)');
  }
  if (!result.success || lines.length > 0) {
    throw new EdgebootError('E_CONFIG', `${configPath} is invalid:\n${lines.join('\n')}`);
  }
  const base = dirname(resolve(configPath));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const r = result.data;
  const cfg = {
    ...r,
    configPath: resolve(configPath),
    inventory: r.inventory ? abs(r.inventory) : '',
    region: r.region
      ? {
          ...r.region,
          token_file: abs(r.region.token_file),
          ca_file: r.region.ca_file ? abs(r.region.ca_file) : undefined,
          state_dir: r.region.state_dir ? abs(r.region.state_dir) : dirname(abs(r.answers.key_file)),
        }
      : undefined,
    boot_root: abs(r.boot_root),
    template_dirs: r.template_dirs.map(abs),
    shipped_templates: r.shipped_templates ? abs(r.shipped_templates) : resolve(packageRoot(), 'templates'),
    loader_dirs: (r.loader_dirs ?? DEBIAN_LOADER_DIRS).map(abs),
    answers: { ...r.answers, key_file: abs(r.answers.key_file) },
    dhcp: {
      ...r.dhcp,
      lease_socket: abs(r.dhcp.lease_socket),
      lease_secret_file: r.dhcp.lease_secret_file ? abs(r.dhcp.lease_secret_file) : undefined,
      lease_hook: r.dhcp.lease_hook ? abs(r.dhcp.lease_hook) : undefined,
    },
  };
  return deepFreeze(cfg);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Read, overlay the environment, validate and freeze the config at `path`. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new EdgebootError('E_CONFIG', `config file ${path} cannot be read: ${messageOf(err)}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (err) {
    throw new EdgebootError('E_CONFIG', `config file ${path} is not valid YAML: ${messageOf(err).split('\n')[0]}`, {
      cause: err,
    });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new EdgebootError('E_CONFIG', `config file ${path} must hold a mapping of settings.`);
  }
  applyEnv(doc as Record<string, unknown>, env);
  return parseConfig(doc, path);
}
