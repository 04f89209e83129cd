import type { BootService } from '../boot/boot-service.js';
import { EdgebootError } from '../core/errors.js';
import { resolveBootFile } from '../files/boot-files.js';
import { type Content, PacketContent, PrebuiltContent, buildPackets, toNetascii } from './content.js';
import type { FileCache } from './file-cache.js';
import { fileSource, netasciiFileSource } from './file-stream.js';
import { TFTP_ERROR } from './packet.js';

/** Where requested names are looked up. */
export interface SourceOptions {
  boot: BootService;
  root: string;
  loaderDirs: readonly string[];
  cache: FileCache;
}

/** Who asked, on which local address: rendered files name that address. */
export interface RequestContext {
  clientIp: string;
  localAddress: string;
}

/** A resolved name: its size (for tsize) and how to make block content once blksize is agreed. */
export interface Resolved {
  size: number;
  origin: 'memory' | 'cache' | 'stream';
  /** For the log: the file on disk, or `rendered`. */
  path: string;
  open(blksize: number): Promise<Content>;
}

function inMemory(data: Buffer, path: string): Resolved {
  return { size: data.length, origin: 'memory', path, open: async (blksize) => new PrebuiltContent(buildPackets(data, blksize), data.length, blksize, 'memory') };
}

/**
 * Resolve a requested name: a virtual file rendered on the wire (never written anywhere), else a file
 * confined to boot_root or a packaged loader; small files come from the cache, large ones are streamed.
 */
export async function resolveSource(name: string, netascii: boolean, ctx: RequestContext, o: SourceOptions): Promise<Resolved> {
  const virtual = await o.boot.virtualFile(name, { ...ctx, via: 'tftp' });
  if (virtual) {
    const data = Buffer.from(virtual.text, 'utf8');
    return inMemory(netascii ? toNetascii(data) : data, 'rendered');
  }
  const file = await resolveBootFile(name, { root: o.root, loaderDirs: o.loaderDirs });
  if (netascii && o.cache.holds(file.size)) return inMemory(toNetascii(await o.cache.get(file)), file.path);
  if (netascii) {
    const src = await netasciiFileSource(file.path);
    return { size: src.size, origin: 'stream', path: file.path, open: async (blksize) => new PacketContent(src, blksize, 'stream') };
  }
  if (o.cache.holds(file.size)) {
    const { length } = await o.cache.get(file);
    return {
      size: length,
      origin: 'cache',
      path: file.path,
      open: async (blksize) => new PrebuiltContent(await o.cache.packets(file, blksize), length, blksize, 'cache'),
    };
  }
  return {
    size: file.size,
    origin: 'stream',
    path: file.path,
    open: async (blksize) => new PacketContent(await fileSource(file.path, file.size), blksize, 'stream'),
  };
}

/** The TFTP error (RFC 1350 §5) that answers a failed resolution, and whether it is the server's fault. */
export function errorFor(err: unknown): { code: number; message: string; fault: boolean } {
  if (err instanceof EdgebootError) {
    if (err.code === 'E_NOT_FOUND') return { code: TFTP_ERROR.fileNotFound, message: 'file not found', fault: false };
    if (err.code === 'E_PATH') return { code: TFTP_ERROR.accessViolation, message: 'access violation', fault: false };
    if (err.code === 'E_BUSY') return { code: TFTP_ERROR.notDefined, message: err.message, fault: false };
    return { code: TFTP_ERROR.notDefined, message: 'edgeboot could not render this file; its log says why', fault: true };
  }
  const errno = (err as { code?: string } | undefined)?.code;
  if (errno === 'ENOENT' || errno === 'ENOTDIR') return { code: TFTP_ERROR.fileNotFound, message: 'file not found', fault: false };
  if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EISDIR') {
    return { code: TFTP_ERROR.accessViolation, message: 'access violation', fault: false };
  }
  return { code: TFTP_ERROR.notDefined, message: 'edgeboot hit an internal error; its log says why', fault: true };
}
