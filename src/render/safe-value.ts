import { EdgebootError } from '../core/errors.js';
import type { Kind } from './kinds.js';

/** Text that a template helper already made safe for a multi-line position (e.g. a YAML block). */
export class SafeText {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const LINE_BREAK_OR_NUL = /[\r\n\0]/;

/**
 * The filter eta applies to every interpolation of `kind`: undefined, objects, CR, LF and NUL
 * are rejected, and so is `${` in iPXE (a hostname with a newline must never add a command).
 */
export function makeFilter(kind: Kind): (value: unknown) => string {
  return (value: unknown): string => {
    if (value instanceof SafeText) return value.text;
    if (value === undefined || value === null) {
      throw new EdgebootError('E_UNSAFE_VALUE', `a ${kind} template interpolated an undefined value`);
    }
    if (typeof value === 'object' || typeof value === 'function' || typeof value === 'symbol') {
      throw new EdgebootError('E_UNSAFE_VALUE', `a ${kind} template interpolated a ${typeof value}, not text`);
    }
    const s = String(value);
    if (LINE_BREAK_OR_NUL.test(s)) {
      throw new EdgebootError('E_UNSAFE_VALUE', `a ${kind} template interpolated a value containing CR, LF or NUL`);
    }
    if (kind === 'ipxe' && s.includes('${')) {
      throw new EdgebootError('E_UNSAFE_VALUE', 'an ipxe template interpolated a value containing "${"');
    }
    // A tab would survive GRUB's quoting (it only wraps arguments containing a space) and split a kernel parameter.
    if (kind === 'grub' && /['\\\t]/.test(s)) {
      throw new EdgebootError('E_UNSAFE_VALUE', 'a grub template interpolated a value containing a quote, backslash or tab');
    }
    return s;
  };
}
