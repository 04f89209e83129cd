/** Stable error codes that tests and operators match on. */
export type ErrorCode =
  | 'E_CONFIG'
  | 'E_MAC'
  | 'E_UUID'
  | 'E_IP'
  | 'E_SNAPSHOT'
  | 'E_INVENTORY'
  | 'E_TEMPLATE_COMPILE'
  | 'E_TEMPLATE_MISSING'
  | 'E_RENDER'
  | 'E_UNSAFE_VALUE'
  | 'E_CAPABILITY'
  | 'E_PATH'
  | 'E_NOT_FOUND'
  | 'E_BUSY'
  | 'E_PACKET'
  | 'E_REGION'
  | 'E_SIGNAL'
  | 'E_IMAGE'
  | 'E_DHCP_PACKET'
  | 'E_DHCP'
  | 'E_LOADERS'
  | 'E_INTERNAL';

/** The one base class of edgeboot errors: a stable `code`, a message that names what and where, never a secret. */
export class EdgebootError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'EdgebootError';
  }
}

/** True when `err` is an EdgebootError carrying `code`. */
export function hasCode(err: unknown, code: ErrorCode): err is EdgebootError {
  return err instanceof EdgebootError && err.code === code;
}

/** The message of any thrown value, for log lines. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
