import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Counter, Histogram } from '../core/metrics.js';
import { normaliseIp } from '../core/ip.js';

/** The path as it may appear in a log line or metric: no query string, answer capabilities masked. */
export function loggablePath(url: string): string {
  const path = url.split('?')[0] ?? '';
  return path.replace(/^\/answers\/([^/]+)\/[^/]+/, '/answers/$1/[capability]').slice(0, 200);
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
