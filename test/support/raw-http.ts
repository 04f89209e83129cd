import { connect } from 'node:net';

/** What came back on a raw connection: the status (0 when none), everything received, and whether it closed. */
export interface RawReply {
  status: number;
  text: string;
  bytes: Buffer;
  closed: boolean;
}

/**
 * Write `payload` on a fresh TCP connection (no client-side parsing or normalising of the path) and collect
 * the answer until the server closes or `timeoutMs` passes.
 */
export function rawHttp(port: number, payload: Buffer | string, timeoutMs = 3000, localAddress = '127.0.0.1'): Promise<RawReply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closed = false;
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const bytes = Buffer.concat(chunks);
      const text = bytes.toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text, bytes, closed });
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => {
      closed = true;
      done();
    });
    // The server may answer and close before the whole payload is written (431, 413): that is fine.
    socket.on('error', () => undefined);
    socket.on('connect', () => socket.write(payload));
  });
}
