import { open } from 'node:fs/promises';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { extname } from 'node:path';
import type { Logger } from 'pino';
import { normaliseIp } from '../core/ip.js';
import type { MetricsRegistry } from '../core/metrics.js';
import type { BootFile } from '../files/boot-files.js';
import { ContentCache } from '../files/content-cache.js';
import type { OpenFiles } from '../files/open-files.js';
import { classifyFile } from '../observe/classify.js';
import { BufferPool } from './buffer-pool.js';
import { errorAnswer } from './errors.js';
import { sendBytes, streamRange } from './file-stream.js';
import { type HttpMetrics, requestRecorder } from './http-metrics.js';
import { loggablePath, requestLine, requestLineLogger } from './request-log.js';
import { fileEtag, fileLastModified, planFile } from './routes/conditional.js';
import { isManagementPath, matchBootRoute } from './routes/dispatch.js';
import type { BootRouteDeps } from './routes/render-script.js';
import type { RouteAnswer, RouteRequest } from './routes/types.js';

/** What the boot dispatcher is built from. */
export interface BootDispatchOptions {
  deps: BootRouteDeps;
  log: Logger;
  registry: MetricsRegistry;
  metrics: HttpMetrics;
  maxStreams: number;
  /** Whole files held in memory for sending (kernels, initrds): `http.cache_bytes` and `http.cache_file_bytes`. */
  cache?: { maxTotalBytes: number; maxFileBytes: number };
  openFiles?: OpenFiles;
  draining?: () => boolean;
  /** Where every management path goes (the express app). */
  fallback: RequestListener;
}

const TEXT_TYPES: Record<string, string> = {
  '.cfg': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.ipxe': 'text/plain; charset=utf-8',
  '.conf': 'text/plain; charset=utf-8',
  '.json': 'application/json',
};

/** Per-request state the log line is made from. */
interface Line {
  route: string;
  fields?: Record<string, unknown>;
  message?: string;
  level?: 'info' | 'debug';
  /** The Content-Length sent, when the answer was written from a flat header list (getHeader cannot read it). */
  bytes?: number;
}

/**
 * The HTTP edge's request listener: boot scripts, answer files and boot files are answered by plain route
 * functions on node:http (no framework on the hot path); management paths go to `fallback`. Same log line,
 * metrics, drain answer and stream admission as the express routes had. A route that answers synchronously
 * (a cached script, /boot.ipxe) is written in the request's own turn: no promise, no microtask hop.
 */
export function createBootDispatcher(o: BootDispatchOptions): RequestListener {
  const pool = new BufferPool();
  const cache = new ContentCache(o.cache ?? { maxTotalBytes: 0, maxFileBytes: 0 });
  o.registry.gauge('edgeboot_http_file_cache_bytes', 'Bytes of boot files held in memory for sending.', () => cache.bytes);
  const lineLog = requestLineLogger(o.log);
  const record = requestRecorder(o.metrics);
  let activeStreams = 0;
  o.registry.gauge('edgeboot_http_active_streams', 'File streams in progress.', () => activeStreams);

  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (!path.startsWith('/') || isManagementPath(path)) {
      o.fallback(req, res);
      return;
    }
    // performance.now() is a plain double: no BigInt allocated per request.
    const started = performance.now();
    const peer = normaliseIp(req.socket.remoteAddress);
    const logPath = loggablePath(path);
    const line: Line = { route: 'other' };
    res.on('finish', () => {
      const ms = performance.now() - started;
      record(line.route, res.statusCode, ms / 1000);
      const facts = {
        peer,
        path: logPath,
        method: req.method,
        status: res.statusCode,
        ms: Math.round(ms * 10) / 10,
        bytes: line.bytes ?? Number(res.getHeader('content-length') ?? 0),
        route: line.route,
      };
      lineLog[line.level ?? 'info'](requestLine(facts, line.fields), line.message ?? 'request');
    });

    if (o.draining?.()) {
      // A request on a kept-alive connection during a stop starts nothing and closes the connection.
      line.route = 'draining';
      sendText(res, line, 503, 'edgeboot is shutting down; retry in a few seconds.\n', DRAINING_HEADERS);
      return;
    }
    const facts: RouteRequest = {
      method: req.method ?? 'GET',
      path,
      query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
      clientIp: req.socket.remoteAddress ?? '',
      localAddress: req.socket.localAddress ?? '',
    };
    const fail = (err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // The per-request child logger is made only when something goes wrong: most requests log one line.
      const { status, sentence } = errorAnswer(err, o.log.child({ peer, path: logPath }));
      sendText(res, line, status, `${sentence}\n`);
    };
    const reply = (a: RouteAnswer) => {
      if (a.route) line.route = a.route;
      line.fields = a.logFields;
      line.message = a.logMessage;
      line.level = a.logLevel;
      if (a.file) sendFileAnswer(req, res, a.file, line, fail).catch(fail);
      else sendText(res, line, a.status, a.body ?? '', a.headers);
    };
    try {
      const matched = matchBootRoute(o.deps, facts);
      line.route = matched.name;
      const a = matched.answer();
      if (a instanceof Promise) a.then(reply, fail);
      else reply(a);
    } catch (err) {
      fail(err);
    }
  };

  async function sendFileAnswer(req: IncomingMessage, res: ServerResponse, file: BootFile, line: Line, fail: (err: unknown) => void): Promise<void> {
    if (activeStreams >= o.maxStreams) {
      o.metrics.streamsBusy.inc();
      sendText(res, line, 503, 'edgeboot is serving its maximum number of file streams; retry in a few seconds.\n', BUSY_HEADERS);
      return;
    }
    await sendFile(req, res, file, line, fail);
  }

  async function sendFile(req: IncomingMessage, res: ServerResponse, file: BootFile, line: Line, fail: (err: unknown) => void): Promise<void> {
    activeStreams++;
    const closeFile = o.openFiles?.open(file.path);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      activeStreams--;
      closeFile?.();
    };
    res.once('close', release);
    const startedMs = Date.now();
    const name = safeDecode((req.url ?? '').split('?')[0]!);
    let fh;
    try {
      fh = await open(file.path, 'r');
      // The size and time of the descriptor we send from, not of the name (a sync may replace the name).
      const st = await fh.stat();
      const facts = { size: st.size, mtimeMs: st.mtimeMs };
      const h = req.headers;
      const plan = planFile(facts, {
        range: h.range,
        ifRange: h['if-range'] as string | undefined,
        ifNoneMatch: h['if-none-match'] as string | undefined,
        ifModifiedSince: h['if-modified-since'],
      });
      const validators = { ETag: fileEtag(facts), 'Last-Modified': fileLastModified(facts) };
      if (plan.status === 304) {
        res.writeHead(304, validators).end();
        return;
      }
      if (plan.status === 416) {
        sendText(res, line, 416, 'The requested range lies outside the file.\n', { 'Content-Range': `bytes */${facts.size}` });
        return;
      }
      const length = Math.max(0, plan.end - plan.start + 1);
      const headers: Record<string, string> = {
        'Content-Type': TEXT_TYPES[extname(file.path).toLowerCase()] ?? 'application/octet-stream',
        'Accept-Ranges': 'bytes',
        ...validators,
      };
      // Set, not passed to writeHead: the request log line reads the length back with getHeader.
      res.setHeader('Content-Length', String(length));
      if (plan.status === 206) headers['Content-Range'] = `bytes ${plan.start}-${plan.end}/${facts.size}`;
      res.writeHead(plan.status, headers);
      let complete = req.method === 'HEAD' || length === 0;
      if (!complete) {
        // Only exactly the version this descriptor opened is sent from memory; anything else streams from it.
        const held = await cache.get({ path: file.path, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
        complete = held ? await sendBytes(res, held.subarray(plan.start, plan.end + 1)) : await streamRange(fh, res, plan.start, plan.end, pool);
      }
      if (complete) res.end();
      if (req.method === 'GET') {
        o.deps.boot.recordFile(req.socket.remoteAddress ?? '', {
          stage: classifyFile(name),
          via: 'http',
          detail: name.slice(0, 120),
          bytes: length,
          ms: Date.now() - startedMs,
          outcome: complete ? 'ok' : 'aborted',
        });
      }
    } catch (err) {
      fail(err);
    } finally {
      await fh?.close();
      if (res.writableEnded || res.destroyed) release();
    }
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const DRAINING_HEADERS = Object.freeze({ Connection: 'close', 'Retry-After': '5' });
const BUSY_HEADERS = Object.freeze({ 'Retry-After': '5' });
const TEXT_PLAIN = 'text/plain; charset=utf-8';

/** Flat header lists (name, value, …) by the headers object they were made from: route headers are shared constants. */
const flatHeaders = new WeakMap<object, readonly string[]>();

function flatten(headers: Readonly<Record<string, string>> | undefined): readonly string[] {
  if (!headers) return ['Content-Type', TEXT_PLAIN];
  let flat = flatHeaders.get(headers);
  if (!flat) {
    // Header names are case-insensitive: a route's own Content-Type, however spelled, replaces the default.
    const own = Object.keys(headers).find((k) => k.toLowerCase() === 'content-type');
    const list = ['Content-Type', own ? headers[own]! : TEXT_PLAIN];
    for (const k of Object.keys(headers)) if (k !== own) list.push(k, headers[k]!);
    flat = list;
    // Only frozen objects are remembered: a mutable one could change after its list was made.
    if (Object.isFrozen(headers)) flatHeaders.set(headers, flat);
  }
  return flat;
}

/**
 * Answer a text body: status, the route's headers (text/plain unless it names its own Content-Type) and
 * Content-Length, written as one flat list (no per-header setHeader bookkeeping). The length is kept on the
 * line for the request log, which cannot read it back from a flat list.
 */
function sendText(res: ServerResponse, line: Line, status: number, body: string, headers?: Readonly<Record<string, string>>): void {
  const length = Buffer.byteLength(body);
  line.bytes = length;
  const list = [...flatten(headers), 'Content-Length', String(length)];
  res.writeHead(status, list);
  res.end(body);
}
