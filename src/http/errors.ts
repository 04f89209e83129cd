import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { EdgebootError, messageOf } from '../core/errors.js';

const STATUS: Partial<Record<EdgebootError['code'], number>> = {
  E_MAC: 400,
  E_UUID: 400,
  E_PATH: 400,
  E_NOT_FOUND: 404,
  E_CAPABILITY: 403,
  E_BUSY: 503,
};

/** Send one clear sentence as text/plain. */
export function sendSentence(res: Response, status: number, sentence: string): void {
  if (res.headersSent) return;
  res.status(status).type('text/plain; charset=utf-8').send(`${sentence}\n`);
}

/** Map any thrown value to a status and one sentence; unexpected and render failures are logged (never the request's secrets). */
export function errorAnswer(err: unknown, log: Logger | undefined): { status: number; sentence: string } {
  if (err instanceof EdgebootError) {
    const status = STATUS[err.code] ?? 500;
    if (status >= 500) log?.error({ code: err.code, err: err.message }, 'request failed');
    return { status, sentence: status >= 500 && err.code !== 'E_BUSY' ? 'edgeboot could not render this file; the log names the template and the problem.' : err.message };
  }
  const status = (err as { status?: number; statusCode?: number })?.status ?? (err as { statusCode?: number })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return { status, sentence: 'The request could not be understood.' };
  log?.error({ err: messageOf(err) }, 'unexpected error');
  return { status: 500, sentence: 'edgeboot hit an internal error; the log has the detail.' };
}

/** Express error handler: the same mapping as the boot routes' adapter. */
export function errorHandler(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
  const { status, sentence } = errorAnswer(err, res.locals.log as Logger | undefined);
  sendSentence(res, status, sentence);
}
