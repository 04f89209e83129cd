import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { EdgebootError, messageOf } from '../core/errors.js';

/** The answer of an authorisation check, as the HTTP status the region sends. */
export type AuthResult = 200 | 401 | 403 | 404;

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TOKEN = /^[\x21-\x7e]{16,4096}$/;

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The bearer token in an Authorization header, or undefined. */
export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer ([\x21-\x7e]+)$/.exec(header ?? '');
  return m?.[1];
}

/**
 * Per-cluster bearer tokens of the reference region, from a YAML/JSON file:
 * `clusters: { <cluster_id>: <token> }` and an optional `admin: <token>` for `edgeboot nodes`.
 * Only digests are kept in memory; the file is re-read when its mtime changes.
 */
export class RegionTokens {
  readonly #file: string;
  #clusters = new Map<string, Buffer>();
  #admin: Buffer | undefined;
  #mtime = -1;
  #checked = 0;

  constructor(file: string) {
    this.#file = file;
    this.load();
  }

  /** Read and validate the file; throws E_CONFIG naming the problem (never a token). */
  load(): void {
    let doc: unknown;
    try {
      this.#mtime = statSync(this.#file).mtimeMs;
      doc = parseYaml(readFileSync(this.#file, 'utf8'));
    } catch (err) {
      throw new EdgebootError('E_CONFIG', `tokens file ${this.#file} cannot be read: ${messageOf(err).split('\n')[0]}`);
    }
    const d = (doc ?? {}) as { clusters?: unknown; admin?: unknown };
    if (typeof d !== 'object' || typeof d.clusters !== 'object' || d.clusters === null || Array.isArray(d.clusters)) {
      throw new EdgebootError('E_CONFIG', `tokens file ${this.#file} must hold "clusters: { <cluster_id>: <token> }"`);
    }
    const clusters = new Map<string, Buffer>();
    for (const [id, token] of Object.entries(d.clusters as Record<string, unknown>)) {
      if (!ID.test(id)) throw new EdgebootError('E_CONFIG', `tokens file ${this.#file}: "${id}" is not a valid cluster id`);
      if (typeof token !== 'string' || !TOKEN.test(token)) {
        throw new EdgebootError('E_CONFIG', `tokens file ${this.#file}: the token of cluster ${id} must be 16+ printable characters`);
      }
      clusters.set(id, digest(token));
    }
    if (d.admin !== undefined && (typeof d.admin !== 'string' || !TOKEN.test(d.admin))) {
      throw new EdgebootError('E_CONFIG', `tokens file ${this.#file}: admin must be a token of 16+ printable characters`);
    }
    this.#clusters = clusters;
    this.#admin = typeof d.admin === 'string' ? digest(d.admin) : undefined;
  }

  /** Re-read the file if it changed (checked at most once a second); a bad edit keeps the old tokens. */
  refresh(now = Date.now()): string | undefined {
    if (now - this.#checked < 1000) return undefined;
    this.#checked = now;
    try {
      if (statSync(this.#file).mtimeMs === this.#mtime) return undefined;
      this.load();
      return undefined;
    } catch (err) {
      return messageOf(err);
    }
  }

  /** 404 for an unknown cluster, 401 without a known token, 403 for another cluster's token, else 200. */
  checkCluster(clusterId: string, header: string | undefined): AuthResult {
    const want = this.#clusters.get(clusterId);
    if (!want) return 404;
    const token = bearer(header);
    if (!token) return 401;
    const got = digest(token);
    if (same(got, want)) return 200;
    for (const other of this.#clusters.values()) if (same(got, other)) return 403;
    return 401;
  }

  /** True for any cluster's token or the admin token (boot resources are shared by all clusters). */
  anyKnown(header: string | undefined): boolean {
    const token = bearer(header);
    if (!token) return false;
    const got = digest(token);
    if (this.#admin && same(got, this.#admin)) return true;
    for (const t of this.#clusters.values()) if (same(got, t)) return true;
    return false;
  }

  /** True only for the admin token. */
  isAdmin(header: string | undefined): boolean {
    const token = bearer(header);
    return Boolean(token && this.#admin && same(digest(token), this.#admin));
  }
}
