import type { BootFile } from '../../files/boot-files.js';

/** The facts a boot route needs from an HTTP request: no framework objects. */
export interface RouteRequest {
  method: string;
  /** The raw path, without the query string (not yet percent-decoded). */
  path: string;
  query: URLSearchParams;
  clientIp: string;
  localAddress: string;
}

/** What a boot route answers: a status with headers and a text body, or a file to stream. */
export interface RouteAnswer {
  status: number;
  headers?: Readonly<Record<string, string>>;
  body?: string;
  file?: BootFile;
  /** Fields added to the request's log line. */
  logFields?: Record<string, unknown>;
  /** A name for the log line other than "request" (a missing file is "file not found"). */
  logMessage?: string;
  logLevel?: 'info' | 'debug';
  /** The route name for logs and metrics when it differs from the matched one (a rendered file is "virtual"). */
  route?: string;
}

/** A boot route: request facts in, an answer out. */
export type BootRoute = (req: RouteRequest) => Promise<RouteAnswer> | RouteAnswer;

/** One plain-text sentence as an answer. */
export function sentence(status: number, text: string, headers?: Record<string, string>): RouteAnswer {
  return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers }, body: `${text}\n` };
}

/** The first value of a query parameter given exactly once and not empty (a repeated one counts as absent). */
export function oneParam(query: URLSearchParams, name: string): string | undefined {
  const all = query.getAll(name);
  return all.length === 1 && all[0] !== '' ? all[0] : undefined;
}
