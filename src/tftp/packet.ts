/**
 * TFTP packet codec (RFC 1350 §5, RFC 2347 §2 option extension): bytes in, values out, no sockets.
 * Parsing never throws; anything malformed comes back as `{ ok: false, reason }`.
 */

/** Opcodes (RFC 1350 §5, RFC 2347 §2 for OACK). */
export const OPCODE = { rrq: 1, wrq: 2, data: 3, ack: 4, error: 5, oack: 6 } as const;

/** Error codes (RFC 1350 appendix, RFC 2347 §2 for 8). */
export const TFTP_ERROR = {
  notDefined: 0,
  fileNotFound: 1,
  accessViolation: 2,
  diskFull: 3,
  illegalOperation: 4,
  unknownTid: 5,
  fileExists: 6,
  noSuchUser: 7,
  optionRefused: 8,
} as const;

/** Largest block size RFC 2348 §2 allows, and thus the largest DATA packet. */
export const MAX_BLKSIZE = 65464;

/** Largest datagram any TFTP peer may legitimately send: a full DATA packet. */
export const MAX_PACKET = 4 + MAX_BLKSIZE;

/** Requests are at most 512 octets (RFC 2347 §2); twice that tolerates sloppy firmware. */
export const MAX_REQUEST = 1024;

/** An option as sent, in order: name keeps its case (negotiation compares lower-cased names). */
export type TftpOption = [name: string, value: string];

/** One decoded TFTP packet. */
export type Packet =
  | { op: 'rrq' | 'wrq'; file: string; mode: string; options: TftpOption[] }
  | { op: 'data'; block: number; data: Buffer }
  | { op: 'ack'; block: number }
  | { op: 'error'; code: number; message: string }
  | { op: 'oack'; options: TftpOption[] };

/** The outcome of parsing a datagram. */
export type ParseResult = { ok: true; packet: Packet } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fail(reason: string): ParseResult {
  return { ok: false, reason };
}

/** Split `buf[from..]` into NUL-terminated strings; undefined if the last one is unterminated or not UTF-8. */
function cstrings(buf: Buffer, from: number): string[] | undefined {
  const out: string[] = [];
  let start = from;
  while (start < buf.length) {
    const end = buf.indexOf(0, start);
    if (end < 0) return undefined;
    try {
      out.push(utf8.decode(buf.subarray(start, end)));
    } catch {
      return undefined;
    }
    start = end + 1;
  }
  return out;
}

/** Option pairs after file and mode (RFC 2347 §2); trailing empty padding is tolerated, an empty name is not. */
function optionPairs(strings: string[]): TftpOption[] | undefined {
  while (strings.length > 0 && strings[strings.length - 1] === '') strings.pop();
  if (strings.length % 2 !== 0) return undefined;
  const out: TftpOption[] = [];
  for (let i = 0; i < strings.length; i += 2) {
    if (strings[i] === '') return undefined;
    out.push([strings[i]!, strings[i + 1]!]);
  }
  return out;
}

/** Decode one datagram. */
export function parsePacket(buf: Buffer): ParseResult {
  if (buf.length < 2) return fail('shorter than an opcode');
  if (buf.length > MAX_PACKET) return fail('larger than any TFTP packet');
  const op = buf.readUInt16BE(0);
  switch (op) {
    case OPCODE.rrq:
    case OPCODE.wrq: {
      if (buf.length > MAX_REQUEST) return fail('request longer than 1024 octets');
      const s = cstrings(buf, 2);
      if (!s || s.length < 2) return fail('request without NUL-terminated file name and mode');
      const [file, mode, ...rest] = s;
      if (file === '') return fail('request with an empty file name');
      const options = optionPairs(rest);
      if (!options) return fail('request with a malformed option list');
      return { ok: true, packet: { op: op === OPCODE.rrq ? 'rrq' : 'wrq', file: file!, mode: mode!, options } };
    }
    case OPCODE.data:
      if (buf.length < 4) return fail('truncated DATA');
      return { ok: true, packet: { op: 'data', block: buf.readUInt16BE(2), data: buf.subarray(4) } };
    case OPCODE.ack:
      // Trailing bytes after the block number are ignored: some firmware pads its ACKs.
      if (buf.length < 4) return fail('truncated ACK');
      return { ok: true, packet: { op: 'ack', block: buf.readUInt16BE(2) } };
    case OPCODE.error: {
      if (buf.length < 4) return fail('truncated ERROR');
      const end = buf.indexOf(0, 4);
      const message = buf
        .subarray(4, end < 0 ? buf.length : end)
        .toString('latin1')
        .replace(/[^\x20-\x7e]/g, '?');
      return { ok: true, packet: { op: 'error', code: buf.readUInt16BE(2), message } };
    }
    case OPCODE.oack: {
      const s = cstrings(buf, 2);
      const options = s ? optionPairs(s) : undefined;
      if (!options) return fail('malformed OACK');
      return { ok: true, packet: { op: 'oack', options } };
    }
    default:
      return fail(`unknown opcode ${op}`);
  }
}

function strings(op: number, parts: string[]): Buffer {
  const bodies = parts.map((p) => Buffer.from(p, 'utf8'));
  const out = Buffer.alloc(2 + bodies.reduce((n, b) => n + b.length + 1, 0));
  out.writeUInt16BE(op, 0);
  let at = 2;
  for (const b of bodies) {
    b.copy(out, at);
    at += b.length + 1;
  }
  return out;
}

/** RRQ or WRQ with options (RFC 1350 §5, RFC 2347 §2). */
export function encodeRequest(op: 'rrq' | 'wrq', file: string, mode: string, options: TftpOption[] = []): Buffer {
  return strings(OPCODE[op], [file, mode, ...options.flat()]);
}

/** OACK (RFC 2347 §2). */
export function encodeOack(options: TftpOption[]): Buffer {
  return strings(OPCODE.oack, options.flat());
}

/** Opcode + 16-bit block number: all of an ACK, the header of a DATA packet (block numbers roll over). */
function opBlock(op: number, block: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt16BE(op, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  return b;
}

/** The 4-byte header of a DATA packet (also a whole DATA packet for the empty last block). */
export function dataHeader(block: number): Buffer {
  return opBlock(OPCODE.data, block);
}

/** A whole DATA packet (RFC 1350 §5). */
export function encodeData(block: number, data: Buffer): Buffer {
  return Buffer.concat([dataHeader(block), data]);
}

/** ACK (RFC 1350 §5). */
export function encodeAck(block: number): Buffer {
  return opBlock(OPCODE.ack, block);
}

/** ERROR (RFC 1350 §5); the message is reduced to printable ASCII and kept short. */
export function encodeError(code: number, message: string): Buffer {
  const text = Buffer.from(message.replace(/[^\x20-\x7e]/g, '?').slice(0, 200), 'latin1');
  const b = Buffer.alloc(5 + text.length);
  b.writeUInt16BE(OPCODE.error, 0);
  b.writeUInt16BE(code & 0xffff, 2);
  text.copy(b, 4);
  return b;
}
