// RFC 8259 §2 (structure), §4 (objects), §5 (arrays), §7 (strings): enough of the grammar to find where the
// elements of a top-level object's arrays begin and end; each piece is then handed to JSON.parse.

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function syntax(at: number, what: string): SyntaxError {
  return new SyntaxError(`${what} at position ${at}`);
}

/**
 * Scans JSON held as UTF-8 bytes. Every structural character is ASCII and no byte of a multi-byte UTF-8
 * sequence is below 0x80, so scanning bytes finds the same boundaries as scanning characters; each piece is
 * decoded on its own, so no string the size of the whole snapshot is ever built.
 */
class Scanner {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  skipWs(): void {
    while (this.pos < this.buf.length && WS.has(this.buf[this.pos]!)) this.pos++;
  }

  expect(ch: string): void {
    this.skipWs();
    if (this.buf[this.pos] !== ch.charCodeAt(0)) throw syntax(this.pos, `expected "${ch}"`);
    this.pos++;
  }

  peek(): string | undefined {
    this.skipWs();
    const c = this.buf[this.pos];
    return c === undefined ? undefined : String.fromCharCode(c);
  }

  text(start: number, end: number): string {
    return this.buf.toString('utf8', start, end);
  }

  /** The end (exclusive) of the string starting at `start` (which is a quote). */
  stringEnd(start: number): number {
    let i = start + 1;
    for (;;) {
      const q = this.buf.indexOf(QUOTE, i);
      if (q < 0) throw syntax(start, 'unterminated string');
      let slashes = 0;
      for (let k = q - 1; k > start && this.buf[k] === BACKSLASH; k--) slashes++;
      if (slashes % 2 === 0) return q + 1;
      i = q + 1;
    }
  }

  /** The end (exclusive) of the value starting at `pos`: the first `,` `]` `}` outside any nesting. */
  valueEnd(): number {
    const t = this.buf;
    let depth = 0;
    let i = this.pos;
    while (i < t.length) {
      const c = t[i]!;
      if (c === QUOTE) {
        i = this.stringEnd(i);
        continue;
      }
      if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (depth === 0) return i;
        depth--;
      } else if (c === 0x2c && depth === 0) return i;
      i++;
    }
    throw syntax(i, 'unexpected end of JSON');
  }

  /** JSON.parse of the next value. */
  value(): unknown {
    this.skipWs();
    const start = this.pos;
    const end = this.valueEnd();
    this.pos = end;
    return JSON.parse(this.text(start, end));
  }
}

// Like JSON.parse, a "__proto__" key becomes an own property rather than changing the prototype.
export function define(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** What walkObjectSteps reports, in document order. */
export interface ObjectVisitor {
  /** A member whose value is not an array. */
  value(key: string, value: unknown): void;
  /** A member whose value is an array begins; its elements follow. */
  arrayStart(key: string): void;
  /** Element `index` of the array member `key`. */
  element(key: string, index: number, value: unknown): void;
}

/**
 * Walk a top-level JSON object member by member, handing each element of an array member over on its own
 * (each is JSON.parse'd separately, so no document-sized string or tree is ever built). Yields after about
 * every `sliceBytes` of elements. Throws SyntaxError where JSON.parse would; the input must begin with `{`.
 */
export function* walkObjectSteps(buf: Buffer, visit: ObjectVisitor, sliceBytes = Number.MAX_SAFE_INTEGER): Generator<void, void> {
  const s = new Scanner(buf);
  s.expect('{');
  let budget = sliceBytes;
  if (s.peek() === '}') s.pos++;
  else {
    for (;;) {
      s.skipWs();
      if (s.buf[s.pos] !== QUOTE) throw syntax(s.pos, 'expected a property name');
      const keyEnd = s.stringEnd(s.pos);
      const key = JSON.parse(s.text(s.pos, keyEnd)) as string;
      s.pos = keyEnd;
      s.expect(':');
      if (s.peek() === '[') {
        s.pos++;
        visit.arrayStart(key);
        if (s.peek() === ']') s.pos++;
        else {
          for (let index = 0; ; index++) {
            const before = s.pos;
            visit.element(key, index, s.value());
            budget -= s.pos - before;
            if (budget <= 0) {
              budget = sliceBytes;
              yield;
            }
            const next = s.peek();
            s.pos++;
            if (next === ']') break;
            if (next !== ',') throw syntax(s.pos - 1, 'expected "," or "]"');
          }
        }
      } else {
        visit.value(key, s.value());
      }
      const next = s.peek();
      s.pos++;
      if (next === '}') break;
      if (next !== ',') throw syntax(s.pos - 1, 'expected "," or "}"');
    }
  }
  s.skipWs();
  if (s.pos !== buf.length) throw syntax(s.pos, 'unexpected text after JSON');
}

/** True when the JSON text in `buf` is an object (its first non-blank byte is `{`). */
export function isJsonObject(buf: Buffer): boolean {
  return new Scanner(buf).peek() === '{';
}

/**
 * Parse JSON in steps, yielding between array elements of the top-level object so a large region snapshot
 * never blocks the event loop for long. Gives exactly what JSON.parse gives, and throws SyntaxError where it would.
 */
export function* jsonSteps(input: Buffer | string, sliceBytes = 128 * 1024): Generator<void, unknown> {
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  if (buf.length <= sliceBytes || !isJsonObject(buf)) return JSON.parse(buf.toString('utf8'));
  const out: Record<string, unknown> = {};
  yield* walkObjectSteps(
    buf,
    {
      value: (key, value) => define(out, key, value),
      arrayStart: (key) => define(out, key, []),
      element: (key, _index, value) => (out[key] as unknown[]).push(value),
    },
    sliceBytes,
  );
  return out;
}

/** jsonSteps run to completion, yielding to the event loop at each step. */
export async function parseJsonInSlices(input: Buffer | string, sliceBytes?: number): Promise<unknown> {
  const steps = jsonSteps(input, sliceBytes);
  let r = steps.next();
  while (!r.done) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    r = steps.next();
  }
  return r.value;
}
