import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { BufferPool } from './buffer-pool.js';

/**
 * Write bytes `start`..`end` (inclusive) of an open file to `res`, in reads of the pool's buffer size
 * (1 MiB, or 128 KiB once the pool's budget is spent). Two buffers per stream: one is read while the other
 * drains to the socket, and a buffer is read into again only after the socket took all of it, which is
 * also the backpressure. Resolves true when all bytes were handed over, false when the client went away
 * first; the caller ends the response.
 */
export async function streamRange(fh: FileHandle, res: ServerResponse, start: number, end: number, pool: BufferPool): Promise<boolean> {
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  const bufs: Buffer[] = [];
  const pending: (Promise<unknown> | undefined)[] = [undefined, undefined];
  let pos = start;
  let turn = 0;
  let clean = false;
  try {
    while (pos <= end) {
      const k = turn++ & 1;
      // A destroyed socket may never call a write back: the close event ends the wait instead.
      if (pending[k]) await Promise.race([pending[k], closed]);
      if (res.destroyed) return false;
      const buf = (bufs[k] ??= pool.take());
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos + 1), pos);
      if (bytesRead === 0) throw new Error('the file shrank while it was being sent');
      pos += bytesRead;
      pending[k] = new Promise<void>((resolve) => res.write(buf.subarray(0, bytesRead), () => resolve()));
    }
    await Promise.race([Promise.all(pending), closed]);
    clean = !res.destroyed;
    return clean;
  } finally {
    // Buffers of an aborted stream may still sit in the socket's queue: only a clean stream gives them back
    // for reuse; an aborted one only returns their share of the budget.
    for (const b of bufs) {
      if (clean) pool.give(b);
      else pool.drop(b);
    }
  }
}

/**
 * Write bytes held in memory (a cached file's range) to `res` in one write: the socket takes them straight
 * from the buffer as it drains, with no copy and no JavaScript per chunk. Resolves true when the socket took
 * them all, false when the client went away first; the caller ends the response.
 */
export function sendBytes(res: ServerResponse, bytes: Buffer): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    // A destroyed socket may never call a write back: the close event ends the wait instead.
    const closed = () => resolve(false);
    res.once('close', closed);
    res.write(bytes, (err) => {
      res.off('close', closed);
      resolve(!err && !res.destroyed);
    });
  });
}
