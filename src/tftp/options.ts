import { MAX_BLKSIZE, type TftpOption } from './packet.js';

/** The classic block size of RFC 1350 §2, used when the client negotiates none. */
export const DEFAULT_BLKSIZE = 512;

/**
 * Cap on the bytes of one window: 8192×16 (128 KiB) stalled clients whose receive buffer is the
 * Linux default (208 KiB of skb truesize), 1468×64 did not.
 */
export const MAX_WINDOW_BYTES = 96 * 1024;

/** What the server is willing to grant on this request. */
export interface NegotiationLimits {
  /** Largest block size: config max_blksize and the interface MTU, already combined. */
  maxBlksize: number;
  maxWindowsize: number;
}

/** The agreed transfer parameters and the OACK to send (empty reply → no OACK, start with DATA 1). */
export interface Negotiated {
  blksize: number;
  windowsize: number;
  /** Client-requested retransmission timeout (RFC 2349 §2), in ms. */
  timeoutMs?: number;
  reply: TftpOption[];
}

function decimal(value: string, max: number): number | undefined {
  if (!/^\d{1,10}$/.test(value)) return undefined;
  const n = Number(value);
  return n <= max ? n : max + 1;
}

/** The options a request asked for, first occurrence of each (lower-cased) name winning. */
function byName(options: TftpOption[]): Map<string, [string, string]> {
  const m = new Map<string, [string, string]>();
  for (const [name, value] of options) {
    const k = name.toLowerCase();
    if (!m.has(k)) m.set(k, [name, value.trim()]);
  }
  return m;
}

/**
 * Negotiate options (RFC 2347 §2): names are case-insensitive; invalid or unknown options are left out of
 * the OACK (declined) rather than failing the request. `size` is the content length if known (tsize).
 */
export function negotiate(options: TftpOption[], size: number | undefined, limits: NegotiationLimits): Negotiated {
  const asked = byName(options);
  const reply: TftpOption[] = [];
  let blksize = DEFAULT_BLKSIZE;
  let windowsize = 1;
  let timeoutMs: number | undefined;

  // RFC 2348 §2: 8..65464; a larger request is answered with what the server can do.
  const b = asked.get('blksize');
  const bv = b ? decimal(b[1], MAX_BLKSIZE) : undefined;
  if (b && bv !== undefined && bv >= 8) {
    blksize = Math.max(8, Math.min(bv, MAX_BLKSIZE, limits.maxBlksize));
  }

  // RFC 7440 §3: 1..65535 blocks; bounded so one window fits the receiver's socket buffer.
  const w = asked.get('windowsize');
  const wv = w ? decimal(w[1], 65535) : undefined;
  if (w && wv !== undefined && wv >= 1) {
    windowsize = Math.max(1, Math.min(wv, 65535, limits.maxWindowsize, Math.floor(MAX_WINDOW_BYTES / blksize)));
  }

  // RFC 2349 §2: timeout 1..255 seconds, echoed as given; out of range is declined.
  const t = asked.get('timeout');
  const tv = t ? decimal(t[1], 255) : undefined;
  if (t && tv !== undefined && tv >= 1 && tv <= 255) timeoutMs = tv * 1000;

  // RFC 2349 §4: a read request carries tsize 0 and the OACK answers with the size.
  const ts = asked.get('tsize');
  const tsv = ts ? decimal(ts[1], Number.MAX_SAFE_INTEGER) : undefined;

  // Answer in the order the client asked, echoing its spelling of each name.
  for (const [k, [name]] of asked) {
    if (k === 'blksize' && b && bv !== undefined && bv >= 8) reply.push([name, String(blksize)]);
    else if (k === 'windowsize' && w && wv !== undefined && wv >= 1) reply.push([name, String(windowsize)]);
    else if (k === 'timeout' && timeoutMs !== undefined) reply.push([name, String(timeoutMs / 1000)]);
    else if (k === 'tsize' && tsv !== undefined && size !== undefined) reply.push([name, String(size)]);
  }
  return { blksize, windowsize, timeoutMs, reply };
}
