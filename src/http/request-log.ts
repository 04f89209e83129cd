import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Counter, Histogram } from '../core/metrics.js';
import { normaliseIp } from '../core/ip.js';
import { TOP_LEVEL_REDACT_PATHS } from '../core/log.js';

/** The path as it may appear in a log line or metric: no query string, answer capabilities masked. */
export function loggablePath(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  // Only an answer path carries a capability: every other path is logged as it came (cut to 200 characters).
  if (!path.startsWith('/answers/')) return path.length > 200 ? path.slice(0, 200) : path;
  return path.replace(/^\/answers\/([^/]+)\/[^/]+/, '/answers/$1/[capability]').slice(0, 200);
}

/**
 * The logger request lines go through: the root's, with redaction limited to top-level fields. A request line
 * is flat (see `requestLine`), so the root's nested-path rules could match nothing in it, and pino applies a
 * wildcard rule to every field of every line: that was a tenth of a rendered script's CPU.
 */
export function requestLineLogger(root: Logger): Logger {
  return root.child({}, { redact: { paths: TOP_LEVEL_REDACT_PATHS, censor: '[redacted]' } });
}

/** The facts of one finished request. */
export interface RequestFacts {
  peer: string;
  path: string;
  method: string | undefined;
  status: number;
  ms: number;
  bytes: number;
  route: string;
}

/**
 * The request line: the facts, then a route's extra fields, flat — a field whose value is an object (which
 * top-level redaction could not look into) is left out.
 */
export function requestLine(facts: RequestFacts, fields: Record<string, unknown> | undefined): Record<string, unknown> {
  const line: Record<string, unknown> = facts as unknown as Record<string, unknown>;
  if (fields) {
    for (const k of Object.keys(fields)) {
      const v = fields[k];
      if (v !== null && (typeof v === 'object' || typeof v === 'function')) continue;
      line[k] = v;
    }
  }
  return line;
}

/**
 * One `info` line per request when the response finishes, with peer, path, status, time and bytes. The
 * per-request child logger (`res.locals.log`) is made only when a handler asks for it: most requests
 * never log anything else, and a pino child per request was a measurable share of the hot path.
 */
export function requestLogger(root: Logger, requests: Counter, latency: Histogram) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const peer = normaliseIp(req.socket.remoteAddress);
    const path = loggablePath(req.originalUrl);
    let child: Logger | undefined;
    Object.defineProperty(res.locals, 'log', { get: () => (child ??= root.child({ peer, path })), enumerable: false });
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const route = (res.locals.route as string | undefined) ?? 'other';
      requests.inc({ route, status: String(res.statusCode) });
      latency.observe(ms / 1000, { route });
      const line = {
        peer,
        path,
        method: req.method,
        status: res.statusCode,
        ms: Math.round(ms * 10) / 10,
        bytes: Number(res.getHeader('content-length') ?? 0),
        route,
        ...res.locals.logFields,
      };
      // A handler may name the line (a missing file is "file not found") and lower it (expected misses).
      const level = (res.locals.logLevel as 'info' | 'debug' | undefined) ?? 'info';
      root[level](line, (res.locals.logMessage as string | undefined) ?? 'request');
    });
    next();
  };
}
