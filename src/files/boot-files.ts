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

/**
 * Names Secure Boot firmware and shim ask for, and the signed file each is answered with, looked up in the
 * loader directories: shim-signed's shim, shim-helpers-*-signed's MokManager, grub-efi-*-signed's network GRUB.
 * Only these `.signed` files ever answer these names: shim-unsigned installs an unsigned `shimx64.efi` beside
 * the signed one, and firmware with Secure Boot enforced refuses it (`Access Denied`).
 */
export const SIGNED_LOADERS: Readonly<Record<string, string>> = {
  'shimx64.efi': 'shimx64.efi.signed',
  'bootx64.efi': 'shimx64.efi.signed',
  'mmx64.efi': 'mmx64.efi.signed',
  'grubx64.efi': 'grubnetx64.efi.signed',
  'shimaa64.efi': 'shimaa64.efi.signed',
  'bootaa64.efi': 'shimaa64.efi.signed',
  'mmaa64.efi': 'mmaa64.efi.signed',
  'grubaa64.efi': 'grubnetaa64.efi.signed',
};

/** The signed file name a requested name must resolve to, or undefined for an ordinary name. */
export function signedLoaderFor(name: string): string | undefined {
  const base = name.split('/').pop()!.toLowerCase();
  return Object.hasOwn(SIGNED_LOADERS, base) ? SIGNED_LOADERS[base] : undefined;
}

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
 * Find a servable file: a Secure Boot loader name (`SIGNED_LOADERS`) only as its `.signed` file from the loader
 * directories; any other name first under boot_root (confined, symlinks followed only inside it), then by
 * name from the Debian packages' install paths.
 */
export async function resolveBootFile(name: string, opts: BootFileOptions): Promise<BootFile> {
  const rel = cleanRequestPath(name);
  const signed = signedLoaderFor(rel);
  if (signed) {
    for (const dir of opts.loaderDirs) {
      const hit = await packaged(dir, signed);
      if (hit) return hit;
    }
    throw new EdgebootError('E_NOT_FOUND', `"${printable(rel)}" is served only as a signed ${signed}, and no loader directory has one (install shim-signed and grub-efi-amd64-signed)`);
  }
  const inRoot = await confined(opts.root, rel);
  if (inRoot) return inRoot;
  for (const dir of opts.loaderDirs) {
    const hit = await packaged(dir, rel);
    if (hit) return hit;
  }
  throw new EdgebootError('E_NOT_FOUND', `"${printable(rel)}" is not in the boot root or the installed loaders`);
}

/** Which file a loader name resolves to, and the same-named files that were passed over (for `check` and `explain`). */
export interface LoaderResolution {
  name: string;
  /** The file served, or undefined when none is installed. */
  path?: string;
  /** Files named exactly like the request that are never served under it (unsigned twins of a signed loader). */
  ignored: string[];
  /** Why the name resolves the way it does, in one sentence. */
  note: string;
}

/** Resolve `name` as a server would and say what was passed over; never throws for a missing file. */
export async function describeLoader(name: string, opts: BootFileOptions): Promise<LoaderResolution> {
  const signed = signedLoaderFor(name);
  let path: string | undefined;
  let missing = '';
  try {
    path = (await resolveBootFile(name, opts)).path;
  } catch (err) {
    missing = (err as Error).message;
  }
  const ignored: string[] = [];
  if (signed) {
    const rel = cleanRequestPath(name);
    for (const dir of [opts.root, ...opts.loaderDirs]) {
      const twin = dir === opts.root ? await confined(dir, rel).catch(() => undefined) : await packaged(dir, rel);
      if (twin && twin.path !== path && !ignored.includes(twin.path)) ignored.push(twin.path);
    }
  }
  const note = signed
    ? `Secure Boot name: served only as ${signed} from the loader directories${ignored.length ? `; not served: ${ignored.join(', ')}` : ''}`
    : path
      ? 'served by name from boot_root, else the loader directories'
      : missing;
  return { name, path, ignored, note };
}
