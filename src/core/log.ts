import pino, { type Logger } from 'pino';

/** Paths pino blanks out wherever they appear: token fields and anything that looks like a credential. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'token_secret',
  '*.token_secret',
  'token_key',
  '*.token_key',
  'consumer_key',
  '*.consumer_key',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'secret',
  '*.secret',
  'capability',
  '*.capability',
];

/** The paths of REDACT_PATHS that name a top-level field (a flat log line, like the request line, needs no others). */
export const TOP_LEVEL_REDACT_PATHS = REDACT_PATHS.filter((p) => !p.includes('.') && !p.includes('*'));

/**
 * How stdout is written: asynchronously (a slow journald never stalls a request), lines arriving while a write
 * is under way gathering into the next one. The buffer is bounded: beyond 16 MiB waiting, lines are dropped
 * rather than growing the heap. A minLength of one byte writes every line as soon as it can, like none, but
 * makes sonic-boom's flush wait for the writes (see `flushLog`). (Holding lines back until kilobytes gather
 * cost more CPU per request than it saved, measured.)
 */
export const STDOUT_BUFFER = { minLength: 1, maxLength: 16 * 1024 * 1024 };

/**
 * Wait until every line logged so far is written, or `ms` passed (a stalled journald must not block a stop).
 * Needed before process.exit: pino's own exit hook writes what waits in the buffer but drops a chunk whose
 * write is being retried (EAGAIN on a full pipe).
 */
export function flushLog(log: Logger, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    log.flush(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

let stampedMs = -1;
let stamp = '';

/** pino's ISO time field, formatted once per millisecond rather than once per line. */
function isoTime(): string {
  const now = Date.now();
  if (now !== stampedMs) {
    stampedMs = now;
    stamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

/** The one root logger: JSON lines to stdout (journald), secrets redacted. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    { level, base: { svc: 'edgeboot' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, timestamp: isoTime },
    destination ?? pino.destination({ sync: false, ...STDOUT_BUFFER }),
  );
}
