import { type MacAddress, tryParseMac } from '../core/mac.js';
import { type SystemUuid, tryParseUuid } from '../core/uuid.js';
import type { Kind } from './kinds.js';

/** A request for a file that is rendered on the wire rather than read from disk. */
export type VirtualFile =
  | { type: 'entry' }
  | { type: 'grub-entry' }
  | { type: 'node'; kind: Extract<Kind, 'pxelinux' | 'grub' | 'ipxe'>; mac?: MacAddress; uuid?: SystemUuid; hexIp?: string }
  | { type: 'default'; kind: Extract<Kind, 'pxelinux'> };

/**
 * Classify a requested path (TFTP file name or HTTP path without the leading slash):
 * `boot.ipxe`, `pxelinux.cfg/01-<mac>|<uuid>|<HEX IP prefix>|default`, `grub/grub.cfg-<mac>|grub.cfg`,
 * `grub/arm64-efi/grub.cfg` and `grub/x86_64-efi/grub.cfg`
 * (the last hands GRUB over to its per-MAC file).
 * Returns undefined for ordinary files. Leading directories before `pxelinux.cfg/` and `grub/` are
 * ignored because firmware prefixes them with the loader's own path.
 */
export function parseVirtualPath(name: string): VirtualFile | undefined {
  const path = name.replace(/^\/+/, '');
  if (path === 'boot.ipxe') return { type: 'entry' };
  const pxe = /(?:^|\/)pxelinux\.cfg\/([^/]+)$/.exec(path);
  if (pxe) {
    const leaf = pxe[1]!;
    if (leaf === 'default') return { type: 'default', kind: 'pxelinux' };
    const mac = /^01-/.test(leaf) ? tryParseMac(leaf) : undefined;
    if (mac) return { type: 'node', kind: 'pxelinux', mac };
    const uuid = leaf.length >= 32 ? tryParseUuid(leaf) : undefined;
    if (uuid) return { type: 'node', kind: 'pxelinux', uuid };
    if (/^[0-9A-F]{1,8}$/.test(leaf)) return { type: 'node', kind: 'pxelinux', hexIp: leaf };
    return undefined;
  }
  // Debian's signed network GRUB first tries `$prefix/<platform>/grub.cfg` (`arm64-efi`, `x86_64-efi`): the same entry.
  if (/(?:^|\/)grub\/(?:arm64|x86_64)-efi\/grub\.cfg$/.test(path)) return { type: 'grub-entry' };
  const grub = /(?:^|\/)grub\/grub\.cfg(?:-([^/]+))?$/.exec(path);
  if (grub) {
    if (grub[1] === undefined) return { type: 'grub-entry' };
    const mac = tryParseMac(grub[1].replace(/^01-/, ''));
    return mac ? { type: 'node', kind: 'grub', mac } : undefined;
  }
  return undefined;
}

/** The hex form PXELINUX uses for an IPv4 address (`10.0.0.1` → `0A000001`). */
export function hexOfIpv4(ip: string): string {
  return ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase();
}
