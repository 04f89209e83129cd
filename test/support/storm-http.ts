/**
 * The HTTP side of a simulated firmware: GET from the machine's own source address over one kept-alive
 * connection, 503 + Retry-After honoured the way iPXE's HTTP core does (wait, ask again), bodies counted
 * (optionally hashed, optionally read slowly) instead of stored.
 */
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';

/** One machine's connection pool: iPXE holds at most one connection to a server. */
export function machineAgent(localAddress: string): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1, localAddress });
}

/** How to read one response. */
export interface GetOptions {
  agent: Agent;
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

const TEXT_LIMIT = 1024 * 1024;

/** One GET; rejects only on a transport failure (refused, reset, timeout). */
export function get(url: string, o: GetOptions): Promise<GetReply> {
  return new Promise<GetReply>((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, agent: o.agent, localAddress: o.localAddress, headers: { 'user-agent': 'iPXE/1.21.1 (edgeboot storm)' } },
      (res) => {
        const hash = o.hash ? createHash('sha256') : undefined;
        const chunks: Buffer[] = [];
        let bytes = 0;
        const started = performance.now();
        const lengthHeader = res.headers['content-length'];
        const contentLength = lengthHeader === undefined ? undefined : Number(lengthHeader);
        const retryRaw = res.headers['retry-after'];
        const retryAfter = retryRaw === undefined ? undefined : Number(retryRaw);
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          hash?.update(c);
          if (o.text && bytes <= TEXT_LIMIT) chunks.push(c);
          if (o.rateBytesPerSec) {
            const ahead = (bytes / o.rateBytesPerSec) * 1000 - (performance.now() - started);
            if (ahead > 5) {
              res.pause();
              setTimeout(() => res.resume(), ahead);
            }
          }
        });
        res.on('close', () => {
          const truncated = !res.complete || (contentLength !== undefined && bytes !== contentLength);
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: Number.isFinite(retryAfter) ? retryAfter : undefined,
            contentLength,
            bytes,
            text: o.text ? Buffer.concat(chunks).toString('utf8') : undefined,
            sha256: hash?.digest('hex'),
            truncated,
          });
        });
        res.on('error', () => undefined);
      },
    );
    req.setTimeout(o.idleTimeoutMs ?? 60_000, () => req.destroy(new Error('idle timeout')));
    req.on('error', reject);
    req.end();
  });
}
