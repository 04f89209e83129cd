import { open } from 'node:fs/promises';
import { EdgebootError } from '../core/errors.js';
import type { ByteSource } from './content.js';

/** Linux IOV_MAX: one preadv takes at most this many slots. */
const IOV_MAX = 1024;

/**
 * A file on disk as a byte source: each chunk is one preadv straight into the packets' payload slots
 * (never one fs.read per block, never a copy).
 */
export async function fileSource(path: string, size: number): Promise<ByteSource> {
  const fh = await open(path, 'r');
  let closed = false;
  return {
    size,
    async read(slots, position) {
      let i = 0;
      let skip = 0;
      let at = position;
      while (i < slots.length) {
        const batch = [skip ? slots[i]!.subarray(skip) : slots[i]!, ...slots.slice(i + 1, i + IOV_MAX)];
        const { bytesRead } = await fh.readv(batch, at);
        // The file shrank after it was opened: a truncated file sent as if whole would corrupt a boot.
        if (bytesRead === 0) throw new EdgebootError('E_IMAGE', 'the file changed while it was being sent');
        at += bytesRead;
        let left = bytesRead + skip;
        skip = 0;
        while (i < slots.length && left >= slots[i]!.length) {
          left -= slots[i]!.length;
          i++;
        }
        skip = left;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      fh.close().catch(() => {});
    },
  };
}
