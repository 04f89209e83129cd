import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Counter, Histogram } from '../core/metrics.js';
import { normaliseIp } from '../core/ip.js';

/** The path as it may appear in a log line or metric: no query string, answer capabilities masked. */
export function loggablePath(url: string): string {
  const path = url.split('?')[0] ?? '';
  return path.replace(/^\/answers\/([^/]+)\/[^/]+/, '/answers/$1/[capability]').slice(0, 200);
}

/** Per-request child logger (peer, path) and one `info` line when the response finishes. */
export function requestLogger(root: Logger, requests: Counter, latency: Histogram) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const peer = normaliseIp(req.socket.remoteAddress);
    const path = loggablePath(req.originalUrl);
    res.locals.log = root.child({ peer, path });
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const route = (res.locals.route as string | undefined) ?? 'other';
      requests.inc({ route, status: String(res.statusCode) });
      latency.observe(ms / 1000, { route });
      const line = { method: req.method, status: res.statusCode, ms: Math.round(ms * 10) / 10, bytes: Number(res.getHeader('content-length') ?? 0), route, ...res.locals.logFields };
      (res.locals.log as Logger).info(line, 'request');
    });
    next();
  };
}
