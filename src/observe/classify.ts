import type { Stage } from './timeline.js';

const LOADER = /(^|\/)(undionly\.k?kpxe|ipxe\.(efi|pxe|lkrn)|snponly\.efi|l?pxelinux\.0|[^/]*\.(kpxe|efi)|shim[a-z0-9]*\.efi(\.signed)?|grub[a-z0-9]*\.efi(\.signed)?)$/i;

/** Which boot stage fetching `path` marks (loader, kernel, initrd, squashfs, config, or a plain file). */
export function classifyFile(path: string): Stage {
  const p = path.replace(/^\/+/, '');
  if (/(^|\/)images\/.+\/kernel$/.test(p)) return 'kernel';
  if (/(^|\/)images\/.+\/initrd$/.test(p)) return 'initrd';
  if (/(^|\/)images\/.+\/squashfs$/.test(p)) return 'squashfs';
  if (/(^|\/)(pxelinux\.cfg\/|grub\/grub\.cfg)/.test(p) || p === 'boot.ipxe') return 'config';
  if (LOADER.test(p) || /\.c32$/.test(p)) return 'loader';
  return 'file';
}
