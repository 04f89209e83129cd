import { EdgebootError } from './errors.js';

/** A MAC address normalised to lower-case `aa:bb:cc:dd:ee:ff`. */
export type MacAddress = string & { readonly __brand: 'MacAddress' };

const HEX12 = /^[0-9a-f]{12}$/;

/**
 * Parse a MAC in any common spelling: `aa:bb:..`, `AA-BB-..`, `aabb.ccdd.eeff`,
 * bare hex, and iPXE's `${net0/mac:hexhyp}` (`aa-bb-..`). PXELINUX's `01-` ARP-type prefix is accepted.
 */
export function parseMac(input: string): MacAddress {
  const quick = typeof input === 'string' ? sixOctets(input) : undefined;
  if (quick !== undefined) return quick;
  const raw = String(input).trim().toLowerCase();
  let hex: string;
  if (/^([0-9a-f]{1,2}[:-]){5}[0-9a-f]{1,2}$/.test(raw)) {
    hex = raw
      .split(/[:-]/)
      .map((p) => p.padStart(2, '0'))
      .join('');
  } else if (/^01[:-]([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/.test(raw)) {
    hex = raw.slice(3).replace(/[:-]/g, '');
  } else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(raw)) {
    hex = raw.replace(/\./g, '');
  } else {
    hex = raw;
  }
  if (!HEX12.test(hex)) {
    throw new EdgebootError('E_MAC', `"${printable(input)}" is not a MAC address (expected six hex octets).`);
  }
  return hex.match(/../g)!.join(':') as MacAddress;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/**
 * The spelling every boot request uses (`aa:bb:…` or iPXE's `aa-bb-…`, six two-digit octets) checked one
 * character at a time: the per-node route parses a MAC on every request, and the general path's regexes,
 * splits and joins were a visible share of it. Anything else answers undefined and takes the general path.
 */
function sixOctets(s: string): MacAddress | undefined {
  if (s.length !== 17) return undefined;
  for (let i = 0; i < 17; i++) {
    const c = s.charCodeAt(i);
    if (i % 3 === 2 ? c !== 58 && c !== 45 : !isHex(c)) return undefined;
  }
  const lower = s.toLowerCase();
  return (s.charCodeAt(2) === 58 && s.charCodeAt(5) === 58 && s.charCodeAt(8) === 58 && s.charCodeAt(11) === 58 && s.charCodeAt(14) === 58
    ? lower
    : lower.replace(/-/g, ':')) as MacAddress;
}

/** parseMac that answers undefined instead of throwing. */
export function tryParseMac(input: string | undefined | null): MacAddress | undefined {
  if (input === undefined || input === null) return undefined;
  try {
    return parseMac(input);
  } catch {
    return undefined;
  }
}

/** The MAC as PXELINUX names its config file: `01-aa-bb-cc-dd-ee-ff`. */
export function pxelinuxMacName(mac: MacAddress): string {
  return `01-${mac.replace(/:/g, '-')}`;
}

/** A short, printable rendering of untrusted input for error messages. */
export function printable(input: unknown, max = 40): string {
  const s = String(input).replace(/[^\x20-\x7e]/g, '?');
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
