/** The facts of a file that decide a conditional or ranged answer. */
export interface FileFacts {
  size: number;
  mtimeMs: number;
}

/** The request headers that make a file answer conditional or partial. */
export interface FileConditions {
  range?: string;
  ifRange?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
}

/** How to answer a file request: 304, 416, 206 with a byte span, or 200 with the whole file. */
export type FilePlan =
  | { status: 304 }
  | { status: 416 }
  | { status: 200 | 206; start: number; end: number };

/** The validator for a file: weak, from its size and modification time (no content hashing on the hot path). */
export function fileEtag(f: FileFacts): string {
  return `W/"${f.size.toString(16)}-${Math.floor(f.mtimeMs).toString(16)}"`;
}

/** Last-Modified for a file, in HTTP date form. */
export function fileLastModified(f: FileFacts): string {
  return new Date(f.mtimeMs).toUTCString();
}

function etagMatches(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  // Weak comparison (RFC 9110 13.1.2): the W/ prefix does not count.
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

function notModified(f: FileFacts, c: FileConditions): boolean {
  if (c.ifNoneMatch !== undefined) return etagMatches(c.ifNoneMatch, fileEtag(f));
  if (c.ifModifiedSince !== undefined) {
    const since = Date.parse(c.ifModifiedSince);
    // HTTP dates have whole seconds: compare the file's time truncated the same way.
    return !Number.isNaN(since) && Math.floor(f.mtimeMs / 1000) * 1000 <= since;
  }
  return false;
}

function rangeStillValid(f: FileFacts, ifRange: string | undefined): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return v === fileEtag(f);
  const at = Date.parse(v);
  return !Number.isNaN(at) && Math.floor(f.mtimeMs / 1000) * 1000 === at;
}

/**
 * Decide the answer to a GET or HEAD of a file: conditional headers first (304), then a single byte range
 * (206, or 416 when it lies past the end). A malformed or multi-part Range is ignored and the whole file
 * is sent, as RFC 9110 allows; boot loaders and curl only ever ask for one range.
 */
export function planFile(f: FileFacts, c: FileConditions): FilePlan {
  if (notModified(f, c)) return { status: 304 };
  const whole = { status: 200 as const, start: 0, end: f.size - 1 };
  if (c.range === undefined || !rangeStillValid(f, c.ifRange)) return whole;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(c.range);
  if (!m || (m[1] === '' && m[2] === '')) return whole;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || f.size === 0) return { status: 416 };
    start = Math.max(0, f.size - suffix);
    end = f.size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? f.size - 1 : Math.min(Number(m[2]), f.size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return whole;
    if (start >= f.size) return { status: 416 };
  }
  return { status: 206, start, end };
}
