import { readFile } from 'node:fs/promises';
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { messageOf } from '../../core/errors.js';
import { printable } from '../../core/mac.js';
import { classifyNetworkError, classifyStatus, RegionError } from './region-error.js';
import { REVISION_HEADER } from '../../contract/index.js';

/** Where the region is and how this rack proves who it is. */
export interface RegionClientOptions {
  /** One region URL, or several replicas of one region: requests go to one, and move to the next when it fails. */
  url: string | string[];
  clusterId: string;
  tokenFile: string;
  caFile?: string;
  /** Connect + answer timeout on top of any long-poll wait. */
  timeoutMs?: number;
  /** Largest snapshot body accepted. */
  maxBodyBytes?: number;
}

/** The answer to a snapshot request. */
export type SnapshotAnswer = { kind: 'unchanged' } | { kind: 'changed'; etag: string | undefined; body: Buffer; bytes: number; revision?: number };

/** The answer to a changes request: a delta body (envelope unchecked), `gone` (410: re-list), or `no-feed` (404: the region has none). */
export type ChangesAnswer = { kind: 'changes'; body: unknown; bytes: number } | { kind: 'gone' } | { kind: 'no-feed' };

/** The revision header's value as a whole number, undefined when absent or not one (an old region). */
export function parseRevision(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

const DEFAULT_MAX_BODY = 512 * 1024 * 1024;

/** A region URL as it may appear in logs: scheme, host, port and path, never credentials or a query. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/$/, '')}`;
  } catch {
    return printable(url, 80);
  }
}

/** HTTP(S) client of the region API (docs/region-api.md); the bearer token never leaves this class except on the wire. */
export class RegionClient {
  readonly #o: RegionClientOptions;
  readonly #bases: URL[];
  readonly #urls: string[];
  /** The replica requests go to now; moves on when one fails to answer or answers 5xx. */
  #at = 0;
  #token: string | undefined;
  #agent: HttpAgent | HttpsAgent | undefined;
  /** The first load of the credentials while it runs: concurrent first requests share it (a second load would destroy the agent under the first). */
  #loading: Promise<void> | undefined;

  constructor(options: RegionClientOptions) {
    this.#o = options;
    this.#urls = Array.isArray(options.url) ? options.url : [options.url];
    if (this.#urls.length === 0) throw new RegionError('credentials', 'region.url names no region');
    this.#bases = this.#urls.map((u) => new URL(u.endsWith('/') ? u : `${u}/`));
  }

  get #base(): URL {
    return this.#bases[this.#at]!;
  }

  /**
   * Move past replica `from` after a request to it failed; with one URL this changes nothing. Only a failure of the
   * replica in use moves: the follower and the reporters share this client, and several requests failing at once
   * (one replica dying under all of them) must move it once, not flip it back to the dead one.
   */
  #failOver(from: number): void {
    if (this.#at === from) this.#at = (from + 1) % this.#bases.length;
  }

  /** Which replica each response came from (a 5xx moves past that one). */
  readonly #answeredBy = new WeakMap<IncomingMessage, number>();

  /** Index of the replica requests go to now. */
  get current(): number {
    return this.#at;
  }

  /** Send the next requests to replica `index` (modulo the list). */
  select(index: number): void {
    this.#at = ((index % this.#bases.length) + this.#bases.length) % this.#bases.length;
  }

  /** Every replica's URL, safe to log. */
  get replicas(): string[] {
    return this.#urls.map(safeUrl);
  }

  /** What this client was made from (plain data: the region worker builds its own client from it). */
  get options(): RegionClientOptions {
    return { ...this.#o };
  }

  /** The region's URL, safe to log. */
  get where(): string {
    return safeUrl(this.#urls[this.#at]!);
  }

  get clusterId(): string {
    return this.#o.clusterId;
  }

  /** (Re-)read the token and CA files; throws RegionError('credentials') naming the file, never its content. */
  async loadCredentials(): Promise<void> {
    let token: string;
    try {
      token = (await readFile(this.#o.tokenFile, 'utf8')).trim();
    } catch (err) {
      throw new RegionError('credentials', `region token file ${this.#o.tokenFile} cannot be read: ${messageOf(err)}`, { cause: err });
    }
    if (!/^[\x21-\x7e]{1,4096}$/.test(token)) {
      throw new RegionError('credentials', `region token file ${this.#o.tokenFile} must hold one token of printable characters`);
    }
    let ca: Buffer | undefined;
    if (this.#o.caFile) {
      try {
        ca = await readFile(this.#o.caFile);
      } catch (err) {
        throw new RegionError('credentials', `region CA file ${this.#o.caFile} cannot be read: ${messageOf(err)}`, { cause: err });
      }
    }
    this.#agent?.destroy();
    this.#agent = this.#base.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, ca }) : new HttpAgent({ keepAlive: true });
    this.#token = token;
  }

  #url(path: string): URL {
    return new URL(path, this.#base);
  }

  async #send(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: string; signal?: AbortSignal; waitSeconds?: number },
  ): Promise<IncomingMessage> {
    if (!this.#token) {
      this.#loading ??= this.loadCredentials().finally(() => {
        this.#loading = undefined;
      });
      await this.#loading;
    }
    const at = this.#at;
    const url = this.#url(path);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers, authorization: `Bearer ${this.#token}` };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const timeout = (options.waitSeconds ?? 0) * 1000 + (this.#o.timeoutMs ?? 15_000);
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers, agent: this.#agent, signal: options.signal }, (res) => {
        this.#answeredBy.set(res, at);
        resolve(res);
      });
      req.setTimeout(timeout, () => req.destroy(Object.assign(new Error(`no answer within ${timeout} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => {
        if (options.signal?.aborted) reject(err);
        else {
          const failure = classifyNetworkError(err);
          const what = failure === 'tls' ? 'TLS failure talking to' : 'cannot reach';
          const where = safeUrl(this.#urls[at]!);
          // The next attempt (after the caller's backoff) goes to the next replica.
          this.#failOver(at);
          reject(new RegionError(failure, `${what} region ${where}: ${messageOf(err)}`, { cause: err }));
        }
      });
      req.end(options.body);
    });
  }

  async #fail(res: IncomingMessage, what: string, resource = false): Promise<never> {
    const body = await readBody(res, 4096).catch(() => '');
    const status = res.statusCode ?? 0;
    if (resource && status === 404) throw new RegionError('http', `region ${this.where} has no ${what} (HTTP 404)`, { status });
    const failure = classifyStatus(status) ?? 'http';
    const at = this.#answeredBy.get(res) ?? this.#at;
    const where = safeUrl(this.#urls[at]!);
    // A replica that answers 5xx (its database gone, shutting down) is left for the next one.
    if (status >= 500) this.#failOver(at);
    const said = body ? `: ${printable(body.replace(/\s+/g, ' '), 160)}` : '';
    const meaning =
      failure === 'unauthorized'
        ? `region ${where} does not accept this cluster's token (HTTP ${status})`
        : failure === 'unknown-cluster'
          ? `region ${where} does not know cluster ${this.#o.clusterId} (HTTP 404)`
          : `region ${where} answered HTTP ${status} to ${what}`;
    throw new RegionError(failure, `${meaning}${said}`, { status });
  }

  /** `GET …/snapshot`, conditional on `etag`, held up to `waitSeconds` by the region when unchanged. */
  async fetchSnapshot(options: { etag?: string; waitSeconds?: number; signal?: AbortSignal; replica?: number } = {}): Promise<SnapshotAnswer> {
    // The follower names the replica (this client may be its helper process's copy): its choice wins.
    if (options.replica !== undefined) this.select(options.replica);
    const wait = options.etag ? Math.max(0, Math.floor(options.waitSeconds ?? 0)) : 0;
    const path = `api/v1/clusters/${encodeURIComponent(this.#o.clusterId)}/snapshot${wait > 0 ? `?wait=${wait}` : ''}`;
    // gzip: a snapshot is JSON, ≈ 33 MB for 100,000 nodes and several times smaller compressed.
    const headers: Record<string, string> = { 'accept-encoding': 'gzip', ...(options.etag ? { 'if-none-match': options.etag } : {}) };
    const res = await this.#send('GET', path, { headers, signal: options.signal, waitSeconds: wait });
    if (res.statusCode === 304) {
      res.resume();
      return { kind: 'unchanged' };
    }
    if (res.statusCode !== 200) return this.#fail(res, 'the snapshot request');
    const body = await this.#readEncoded(res, 'snapshot');
    const etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined;
    return { kind: 'changed', etag, body, bytes: body.length, revision: parseRevision(res.headers[REVISION_HEADER]) };
  }

  /** Read a snapshot or changes body (gzip or plain, bounded); failures are RegionErrors naming `what`. */
  async #readEncoded(res: IncomingMessage, what: 'snapshot' | 'changes'): Promise<Buffer> {
    const max = this.#o.maxBodyBytes ?? DEFAULT_MAX_BODY;
    const encoding = String(res.headers['content-encoding'] ?? 'identity').toLowerCase();
    try {
      if (encoding === 'gzip') return await readGzipBody(res, max);
      if (encoding === 'identity') return await readBodyBuffer(res, max);
      res.resume();
      throw new RegionError('malformed', `region ${this.where} sent the ${what} in an encoding it was not asked for (${printable(encoding, 40)})`);
    } catch (err) {
      if (err instanceof RegionError) throw err;
      if ((err as { code?: unknown }).code?.toString().startsWith('Z_')) {
        throw new RegionError('malformed', `region ${this.where} sent a gzip ${what} that does not decompress: ${messageOf(err)}`, { cause: err });
      }
      // A replica that dies in the middle of a body is left for the next one, like one that refuses the connection.
      const at = this.#answeredBy.get(res) ?? this.#at;
      this.#failOver(at);
      throw new RegionError('unreachable', `region ${safeUrl(this.#urls[at]!)} dropped the ${what} transfer: ${messageOf(err)}`, { cause: err });
    }
  }

  /** `GET …/changes?since=&wait=`: what changed since revision `since`, held up to `waitSeconds` when nothing did. */
  async fetchChanges(options: { since: number; waitSeconds?: number; signal?: AbortSignal }): Promise<ChangesAnswer> {
    const wait = Math.max(0, Math.floor(options.waitSeconds ?? 0));
    const path = `api/v1/clusters/${encodeURIComponent(this.#o.clusterId)}/changes?since=${options.since}&wait=${wait}`;
    const res = await this.#send('GET', path, { headers: { 'accept-encoding': 'gzip' }, signal: options.signal, waitSeconds: wait });
    if (res.statusCode === 410) {
      res.resume();
      return { kind: 'gone' };
    }
    if (res.statusCode === 404) {
      res.resume();
      return { kind: 'no-feed' };
    }
    if (res.statusCode !== 200) return this.#fail(res, 'the changes request');
    const body = await this.#readEncoded(res, 'changes');
    try {
      return { kind: 'changes', body: JSON.parse(body.toString('utf8')) as unknown, bytes: body.length };
    } catch (err) {
      throw new RegionError('malformed', `region ${this.where} sent changes that are not JSON: ${messageOf(err)}`);
    }
  }

  /** POST a JSON body to a cluster endpoint (`discoveries`, `events`); resolves with the status on 2xx. */
  async postCluster(endpoint: 'discoveries' | 'events', body: unknown, signal?: AbortSignal): Promise<number> {
    const path = `api/v1/clusters/${encodeURIComponent(this.#o.clusterId)}/${endpoint}`;
    const res = await this.#send('POST', path, { body: JSON.stringify(body), signal });
    if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) return this.#fail(res, `POST ${endpoint}`);
    res.resume();
    return res.statusCode ?? 0;
  }

  /** Open `GET /api/v1/boot-resources/<path>`, from byte `from` when resuming; resolves with the 200/206 response. */
  async openResource(path: string, options: { from?: number; signal?: AbortSignal } = {}): Promise<IncomingMessage> {
    const rel = path.split('/').map(encodeURIComponent).join('/');
    const headers: Record<string, string> = { accept: '*/*' };
    if (options.from) headers.range = `bytes=${options.from}-`;
    const res = await this.#send('GET', `api/v1/boot-resources/${rel}`, { headers, signal: options.signal });
    if (res.statusCode !== 200 && res.statusCode !== 206) return this.#fail(res, `boot resource ${printable(path, 120)}`, true);
    return res;
  }

  /** An arbitrary admin request (used by `edgeboot nodes`); answers status and parsed JSON body. */
  async admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await this.#send(method, `api/v1/admin/${path}`, { body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await readBody(res, 64 * 1024 * 1024);
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // A plain-text sentence is kept as it is.
    }
    return { status: res.statusCode ?? 0, body: parsed };
  }

  /** Close idle keep-alive connections. */
  close(): void {
    this.#agent?.destroy();
  }
}

/**
 * Read a whole response body as bytes, refusing more than `max`. With a Content-Length the buffer is
 * allocated once and filled as chunks arrive, so a large snapshot never needs one big copy at the end.
 */
export function readBodyBuffer(res: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (!(Number.isInteger(declared) && declared >= 0 && declared <= max)) {
    return collect(res, res, max, `region answer is larger than ${max} bytes`);
  }
  return new Promise((resolve, reject) => {
    const buf = Buffer.allocUnsafe(declared);
    let at = 0;
    res.on('data', (c: Buffer) => {
      if (at + c.length > declared) {
        res.destroy();
        reject(new RegionError('malformed', `region answer is longer than its Content-Length (${declared})`));
        return;
      }
      c.copy(buf, at);
      at += c.length;
    });
    res.on('end', () => (at === declared ? resolve(buf) : reject(new Error(`region answer ended after ${at} of ${declared} bytes`))));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new Error('the region closed the connection mid-answer'));
    });
  });
}

/**
 * Collect all of `from` (the response itself, or what it is piped through) into one Buffer, refusing more
 * than `max` bytes with `tooLarge`; a response that ends early or fails rejects.
 */
function collect(res: IncomingMessage, from: Readable, max: number, tooLarge: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      res.destroy();
      if (from !== res) from.destroy();
      reject(err);
    };
    from.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) fail(new RegionError('malformed', tooLarge));
      else chunks.push(c);
    });
    from.on('end', () => !failed && resolve(Buffer.concat(chunks, size)));
    from.on('error', fail);
    if (from !== res) res.on('error', fail);
    res.on('close', () => {
      if (!res.complete) fail(new Error('the region closed the connection mid-answer'));
    });
  });
}

/** Read and gunzip a whole response body, refusing more than `max` bytes once decompressed. */
export function readGzipBody(res: IncomingMessage, max: number): Promise<Buffer> {
  // 1 MiB output chunks: few of them, each above glibc's mmap threshold, so their memory goes back when freed.
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  const body = collect(res, gunzip, max, `region answer is larger than ${max} bytes once decompressed`);
  res.pipe(gunzip);
  return body;
}

/** Read a whole response body as UTF-8, refusing more than `max` bytes. */
export async function readBody(res: IncomingMessage, max: number): Promise<string> {
  return (await collect(res, res, max, `region answer is larger than ${max} bytes`)).toString('utf8');
}
