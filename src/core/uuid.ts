import { EdgebootError } from './errors.js';
import { printable } from './mac.js';

/** An SMBIOS UUID normalised to lower-case 8-4-4-4-12 form. */
export type SystemUuid = string & { readonly __brand: 'SystemUuid' };

/** Parse a UUID with or without hyphens or braces, any case. */
export function parseUuid(input: string): SystemUuid {
  const hex = String(input)
    .trim()
    .toLowerCase()
    .replace(/^\{|\}$/g, '')
    .replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/.test(hex)) {
    throw new EdgebootError('E_UUID', `"${printable(input)}" is not a UUID (expected 32 hex digits).`);
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` as SystemUuid;
}

/** parseUuid that answers undefined instead of throwing. */
export function tryParseUuid(input: string | undefined | null): SystemUuid | undefined {
  if (!input) return undefined;
  try {
    return parseUuid(input);
  } catch {
    return undefined;
  }
}
