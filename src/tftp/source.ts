import { readFile } from 'node:fs/promises';
import type { BootService } from '../boot/boot-service.js';
import { EdgebootError } from '../core/errors.js';
import { type BootFile, resolveBootFile } from '../files/boot-files.js';
import { type Content, PacketContent, memorySource, toNetascii } from './content.js';
import type { FileCache } from './file-cache.js';
import { fileSource } from './file-stream.js';
import { TFTP_ERROR } from './packet.js';

/** Netascii of a file is built in memory; past this size the client is told to use octet. */
export const NETASCII_MAX = 4 * 1024 * 1024;

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

function inMemory(data: Buffer, origin: 'memory' | 'cache', path: string): Resolved {
  return { size: data.length, origin, path, open: async (blksize) => new PacketContent(memorySource(data), blksize, origin) };
}

/**
 * Resolve a requested name: a virtual file rendered on the wire (never written anywhere), else a file
 * confined to boot_root or a packaged loader; small files come from the cache, large ones are streamed.
 */
export async function resolveSource(name: string, netascii: boolean, ctx: RequestContext, o: SourceOptions): Promise<Resolved> {
  const virtual = await o.boot.virtualFile(name, { ...ctx, via: 'tftp' });
  if (virtual) {
    const data = Buffer.from(virtual.text, 'utf8');
    return inMemory(netascii ? toNetascii(data) : data, 'memory', 'rendered');
  }
  const file = await resolveBootFile(name, { root: o.root, loaderDirs: o.loaderDirs });
  if (netascii) {
    if (file.size > NETASCII_MAX) {
      throw new EdgebootError('E_UNSUPPORTED', 'netascii transfers are limited to 4 MiB; ask in octet mode');
    }
    return inMemory(toNetascii(await read(file, o.cache)), 'memory', file.path);
  }
  if (o.cache.holds(file.size)) return inMemory(await o.cache.get(file), 'cache', file.path);
  return {
    size: file.size,
    origin: 'stream',
    path: file.path,
    open: async (blksize) => new PacketContent(await fileSource(file.path, file.size), blksize, 'stream'),
  };
}

function read(file: BootFile, cache: FileCache): Promise<Buffer> {
  return cache.holds(file.size) ? cache.get(file) : readFile(file.path);
}

/** The TFTP error (RFC 1350 §5) that answers a failed resolution, and whether it is the server's fault. */
export function errorFor(err: unknown): { code: number; message: string; fault: boolean } {
  if (err instanceof EdgebootError) {
    if (err.code === 'E_NOT_FOUND') return { code: TFTP_ERROR.fileNotFound, message: 'file not found', fault: false };
    if (err.code === 'E_PATH') return { code: TFTP_ERROR.accessViolation, message: 'access violation', fault: false };
    if (err.code === 'E_BUSY' || err.code === 'E_UNSUPPORTED') return { code: TFTP_ERROR.notDefined, message: err.message, fault: false };
    return { code: TFTP_ERROR.notDefined, message: 'edgeboot could not render this file; its log says why', fault: true };
  }
  const errno = (err as { code?: string } | undefined)?.code;
  if (errno === 'ENOENT' || errno === 'ENOTDIR') return { code: TFTP_ERROR.fileNotFound, message: 'file not found', fault: false };
  if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EISDIR') {
    return { code: TFTP_ERROR.accessViolation, message: 'access violation', fault: false };
  }
  return { code: TFTP_ERROR.notDefined, message: 'edgeboot hit an internal error; its log says why', fault: true };
}
