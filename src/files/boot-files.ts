import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { EdgebootError } from '../core/errors.js';
import { printable } from '../core/mac.js';

/** A regular file that may be served, with what a server needs to send it. */
export interface BootFile {
  path: string;
  size: number;
  mtimeMs: number;
  /** `root` for boot_root, `loader` for a Debian package path. */
  from: 'root' | 'loader';
}

/** Where files may come from. */
export interface BootFileOptions {
  root: string;
  loaderDirs: readonly string[];
}

/** Names firmware asks for that Debian installs under another file name. */
const LOADER_ALIASES: Record<string, string[]> = {
  'shimx64.efi': ['/usr/lib/shim/shimx64.efi.signed'],
  'bootx64.efi': ['/usr/lib/shim/shimx64.efi.signed'],
  'shimaa64.efi': ['/usr/lib/shim/shimaa64.efi.signed'],
  'bootaa64.efi': ['/usr/lib/shim/shimaa64.efi.signed'],
  'grubx64.efi': ['/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed'],
  'grubaa64.efi': ['/usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed'],
  'mmx64.efi': ['/usr/lib/shim/mmx64.efi.signed'],
};

/**
 * Validate a requested name and return it as a clean relative path, or throw E_PATH.
 * Rejects NUL and control characters, backslashes, `..` segments, and empty names.
 */
export function cleanRequestPath(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 1024) {
    throw new EdgebootError('E_PATH', 'the requested file name is empty or too long');
  }
  if (/[\x00-\x1f\x7f]/.test(name)) throw new EdgebootError('E_PATH', 'the requested file name contains control characters');
  if (name.includes('\\')) throw new EdgebootError('E_PATH', `"${printable(name)}" contains a backslash`);
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..')) throw new EdgebootError('E_PATH', `"${printable(name)}" leaves the boot root`);
  if (segments.length === 0) throw new EdgebootError('E_PATH', 'the requested file name names no file');
  return segments.join('/');
}

/** A regular file at `dir/rel`, following symlinks wherever the distro points them (root-owned loader dirs). */
async function packaged(dir: string, rel: string): Promise<BootFile | undefined> {
  try {
    const real = await realpath(join(dir, rel));
    const st = await stat(real);
    return st.isFile() ? { path: real, size: st.size, mtimeMs: st.mtimeMs, from: 'loader' } : undefined;
  } catch {
    return undefined;
  }
}

async function confined(dir: string, rel: string): Promise<BootFile | undefined> {
  let realDir: string;
  let real: string;
  try {
    realDir = await realpath(dir);
    real = await realpath(join(realDir, rel));
  } catch {
    return undefined;
  }
  if (real !== realDir && !real.startsWith(realDir + sep)) {
    throw new EdgebootError('E_PATH', `"${printable(rel)}" resolves outside ${dir}`);
  }
  const st = await stat(real);
  if (!st.isFile()) throw new EdgebootError('E_PATH', `"${printable(rel)}" is not a regular file`);
  return { path: real, size: st.size, mtimeMs: st.mtimeMs, from: 'root' };
}

/**
 * Find a servable file: first under boot_root (confined, symlinks followed only inside it),
 * then a boot loader by name from the Debian packages' install paths.
 */
export async function resolveBootFile(name: string, opts: BootFileOptions): Promise<BootFile> {
  const rel = cleanRequestPath(name);
  const inRoot = await confined(opts.root, rel);
  if (inRoot) return inRoot;
  for (const dir of opts.loaderDirs) {
    const hit = await packaged(dir, rel);
    if (hit) return hit;
  }
  const base = rel.split('/').pop()!.toLowerCase();
  for (const candidate of LOADER_ALIASES[base] ?? []) {
    try {
      const st = await stat(candidate);
      if (st.isFile()) return { path: candidate, size: st.size, mtimeMs: st.mtimeMs, from: 'loader' };
    } catch {
      // Not installed: try the next candidate.
    }
  }
  throw new EdgebootError('E_NOT_FOUND', `"${printable(rel)}" is not in the boot root or the installed loaders`);
}
