import type { NextFunction, Request, Response } from 'express';

/** An express handler that may be async. */
export type Handler = (req: Request, res: Response, next: NextFunction) => Promise<void> | void;

/** Name the route for logs/metrics and send any rejection to the error handler (one request never crashes the daemon). */
export function route(name: string, fn: Handler): Handler {
  return async (req, res, next) => {
    res.locals.route = name;
    try {
      await fn(req, res, next);
    } catch (err) {
      next(err);
    }
  };
}
