/**
 * The HTTP side of a simulated firmware: GET from the machine's own source address over one kept-alive
 * connection, 503 + Retry-After honoured the way iPXE's HTTP core does (wait, ask again), bodies counted
 * (optionally hashed, optionally read slowly) instead of stored.
 *
 * A plain TCP socket reading into one shared 1 MiB buffer (`onread`), not node:http: a storm of 500
 * machines pulls tens of GiB, and node:http's 64 KiB chunk per read (a Buffer and a stream event each)
 * saturated the client's core and capped the servers it was meant to measure. Answers are HTTP/1.1 with
 * Content-Length (or none, read to close), which is what the boot servers compared here send.
 */
import { createHash, type Hash } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** One read buffer for every machine: each read is consumed before the next one starts. */
const READ_BUFFER = Buffer.allocUnsafe(1 << 20);
const TEXT_LIMIT = 1024 * 1024;
const HEAD_LIMIT = 64 * 1024;

/** A response being read off a link's socket. */
interface Pending {
  o: GetOptions;
  resolve: (r: GetReply) => void;
  reject: (e: Error) => void;
  head: string;
  /** Set once the header block is complete. */
  status?: number;
  retryAfter?: number;
  contentLength?: number;
  close?: boolean;
  bytes: number;
  chunks: Buffer[];
  hash?: Hash;
  started: number;
}

/** One machine's connection: iPXE holds at most one connection to a server, and reuses it. */
export class MachineLink {
  #socket?: Socket;
  #key = '';
  #pending?: Pending;

  constructor(readonly localAddress: string) {}

  /** Close the connection (the machine is done). */
  destroy(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  /** One GET on this link; rejects only on a transport failure before an answer began. */
  get(url: string, o: GetOptions): Promise<GetReply> {
    const u = new URL(url);
    const key = `${u.hostname}:${u.port}`;
    return new Promise<GetReply>((resolve, reject) => {
      if (this.#pending) {
        reject(new Error('this machine already has a request in flight'));
        return;
      }
      const p: Pending = { o, resolve, reject, head: '', bytes: 0, chunks: [], hash: o.hash ? createHash('sha256') : undefined, started: performance.now() };
      this.#pending = p;
      let s = this.#socket;
      if (!s || s.destroyed || !s.writable || this.#key !== key) {
        s?.destroy();
        s = this.#open(u.hostname.replace(/^\[|\]$/g, ''), Number(u.port || 80), o.localAddress);
        this.#key = key;
      }
      s.setTimeout(o.idleTimeoutMs ?? 60_000);
      s.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: iPXE/1.21.1 (edgeboot storm)\r\nConnection: keep-alive\r\n\r\n`);
    });
  }

  #open(host: string, port: number, localAddress: string): Socket {
    const s: Socket = connect({
      host,
      port,
      localAddress,
      onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => this.#onRead(s, buf as Buffer, n) },
    });
    this.#socket = s;
    s.setNoDelay(true);
    s.on('timeout', () => s.destroy(new Error('idle timeout')));
    s.on('error', () => undefined);
    s.on('close', () => {
      if (this.#socket === s) this.#socket = undefined;
      const p = this.#pending;
      if (!p) return;
      this.#pending = undefined;
      if (p.status === undefined) {
        // The socket's own error keeps its code (ECONNREFUSED, ECONNRESET) for callers that tell them apart.
        p.reject((s.errored as Error | null) ?? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
        return;
      }
      // A body without Content-Length ends with the connection; any other close is a cut.
      this.#finish(p, p.contentLength !== undefined);
    });
    return s;
  }

  #onRead(s: Socket, buf: Buffer, n: number): boolean {
    const p = this.#pending;
    if (!p || s !== this.#socket) return true;
    let data = buf.subarray(0, n);
    if (p.status === undefined) {
      // Headers are short text: collect them as latin1 (one char per byte) until the blank line.
      const before = p.head.length;
      const take = Math.min(data.length, HEAD_LIMIT - before + 4);
      p.head += data.subarray(0, take).toString('latin1');
      const end = p.head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (take < data.length || p.head.length >= HEAD_LIMIT) s.destroy(new Error('answer header block too long'));
        return true;
      }
      data = data.subarray(end + 4 - before);
      const bad = this.#parseHead(p, p.head.slice(0, end));
      if (bad) {
        s.destroy(new Error(bad));
        return true;
      }
    }
    if (data.length > 0) this.#body(p, data);
    if (p.contentLength !== undefined && p.bytes >= p.contentLength) {
      this.#pending = undefined;
      s.setTimeout(0);
      if (p.close) {
        this.#socket = undefined;
        s.destroy();
      }
      this.#finish(p, false);
      return true;
    }
    if (p.o.rateBytesPerSec) {
      const ahead = (p.bytes / p.o.rateBytesPerSec) * 1000 - (performance.now() - p.started);
      if (ahead > 5) {
        s.pause();
        setTimeout(() => s.resume(), ahead);
      }
    }
    return true;
  }

  /** Read the status and the headers the machine acts on; a sentence when the answer cannot be read. */
  #parseHead(p: Pending, head: string): string | undefined {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (!m) return `malformed status line: ${(lines[0] ?? '').slice(0, 80)}`;
    p.close = m[1] === '0';
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i < 0) continue;
      const name = l.slice(0, i).trim().toLowerCase();
      const value = l.slice(i + 1).trim();
      if (name === 'content-length') p.contentLength = Number(value);
      else if (name === 'retry-after') p.retryAfter = Number(value);
      else if (name === 'connection') p.close = value.toLowerCase() === 'close';
      else if (name === 'transfer-encoding' && value.toLowerCase() !== 'identity') return `the storm client reads no "${value}" answers`;
    }
    p.status = Number(m[2]);
    return undefined;
  }

  #body(p: Pending, data: Buffer): void {
    p.bytes += data.length;
    p.hash?.update(data);
    // The read buffer is reused: text is copied out.
    if (p.o.text && p.bytes <= TEXT_LIMIT) p.chunks.push(Buffer.from(data));
  }

  #finish(p: Pending, truncated: boolean): void {
    const cut = truncated || (p.contentLength !== undefined && p.bytes !== p.contentLength);
    p.resolve({
      status: p.status ?? 0,
      retryAfter: p.retryAfter !== undefined && Number.isFinite(p.retryAfter) ? p.retryAfter : undefined,
      contentLength: p.contentLength,
      bytes: p.bytes,
      text: p.o.text ? Buffer.concat(p.chunks).toString('utf8') : undefined,
      sha256: p.hash?.digest('hex'),
      truncated: cut,
    });
  }
}

/** One machine's connection from its own source address. */
export function machineAgent(localAddress: string): MachineLink {
  return new MachineLink(localAddress);
}

/** How to read one response. */
export interface GetOptions {
  agent: MachineLink;
  localAddress: string;
  /** Keep the body as text (scripts, answer files); otherwise only count it. */
  text?: boolean;
  hash?: boolean;
  /** Read no faster than this (bytes per second), like a slow NIC or a throttled peer. */
  rateBytesPerSec?: number;
  /** Give up when the socket is idle this long. */
  idleTimeoutMs?: number;
}

/** A response as the machine saw it. */
export interface GetReply {
  status: number;
  retryAfter?: number;
  contentLength?: number;
  bytes: number;
  text?: string;
  sha256?: string;
  /** True when the body ended short of Content-Length (connection cut). */
  truncated: boolean;
}

/** One GET; rejects only on a transport failure (refused, reset, timeout). */
export function get(url: string, o: GetOptions): Promise<GetReply> {
  return o.agent.get(url, o);
}
