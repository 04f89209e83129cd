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

/** The one root logger: JSON lines to stdout (journald), secrets redacted. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    { level, base: { svc: 'edgeboot' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination ?? pino.destination({ sync: false }),
  );
}
