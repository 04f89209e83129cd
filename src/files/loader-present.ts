import { statSync } from 'node:fs';
import { join } from 'node:path';
import { type BootFileOptions, cleanRequestPath, signedLoaderFor } from './boot-files.js';

/** The arm64 UEFI loader DHCP answers name when `dhcp.arm64_loader` is unset: Debian's signed network GRUB. */
export const DEFAULT_ARM64_LOADER = 'grubaa64.efi';

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Whether a loader name would be served, decided synchronously for the boot plan (which is built inside the
 * proxyDHCP reply path): a Secure Boot name only by its `.signed` file in a loader directory, any other name in
 * boot_root or a loader directory. `resolveBootFile` stays the authority when the file is actually sent.
 */
export function loaderInstalled(name: string, opts: BootFileOptions): boolean {
  let rel: string;
  try {
    rel = cleanRequestPath(name);
  } catch {
    return false;
  }
  const signed = signedLoaderFor(rel);
  if (signed) return opts.loaderDirs.some((d) => isFile(join(d, signed)));
  return isFile(join(opts.root, rel)) || opts.loaderDirs.some((d) => isFile(join(d, rel)));
}
