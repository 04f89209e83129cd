import { open } from 'node:fs/promises';
import { EdgebootError } from '../core/errors.js';
import { type ByteSource, toNetascii } from './content.js';

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

const CR = 0x0d;
const LF = 0x0a;
const PIECE = 64 * 1024;

/**
 * A file converted to netascii (RFC 1350 §2) on the fly: a first pass counts CR and LF to learn the
 * converted size (tsize and the last block need it), then chunks are converted in order as they are read.
 */
export async function netasciiFileSource(path: string): Promise<ByteSource> {
  const fh = await open(path, 'r');
  const raw = Buffer.allocUnsafe(PIECE);
  let size = 0;
  try {
    for (let at = 0; ; ) {
      const { bytesRead } = await fh.read(raw, 0, PIECE, at);
      if (bytesRead === 0) break;
      at += bytesRead;
      size += bytesRead;
      for (let i = 0; i < bytesRead; i++) if (raw[i] === CR || raw[i] === LF) size++;
    }
  } catch (err) {
    await fh.close();
    throw err;
  }
  let rawAt = 0;
  let outAt = 0;
  let pending = Buffer.alloc(0);
  let chain: Promise<void> = Promise.resolve();
  let closed = false;

  const refill = async () => {
    const { bytesRead } = await fh.read(raw, 0, PIECE, rawAt);
    if (bytesRead === 0) throw new EdgebootError('E_IMAGE', 'the file changed while it was being sent');
    rawAt += bytesRead;
    pending = Buffer.concat([pending, toNetascii(raw.subarray(0, bytesRead))]);
  };

  return {
    size,
    read(slots, position) {
      const job = chain.then(async () => {
        // PacketContent asks for chunks strictly in order; anything else is a bug, not a client's doing.
        if (position !== outAt) throw new EdgebootError('E_INTERNAL', 'netascii content was read out of order');
        for (const slot of slots) {
          let filled = 0;
          while (filled < slot.length) {
            if (pending.length === 0) await refill();
            const n = pending.copy(slot, filled, 0, Math.min(pending.length, slot.length - filled));
            pending = pending.subarray(n);
            filled += n;
          }
          outAt += slot.length;
        }
      });
      chain = job.catch(() => {});
      return job;
    },
    close() {
      if (closed) return;
      closed = true;
      chain.finally(() => fh.close().catch(() => {}));
    },
  };
}

