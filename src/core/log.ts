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
 * How stdout is written: lines gather in memory and go out in one write once 8 KiB are waiting or 100 ms have
 * passed, instead of one write per line. The buffer is bounded (lines beyond 16 MiB waiting are dropped rather
 * than growing the heap while journald is stalled), and pino flushes it synchronously at process exit.
 */
export const STDOUT_BUFFER = { minLength: 8 * 1024, maxLength: 16 * 1024 * 1024, periodicFlush: 100 };

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
