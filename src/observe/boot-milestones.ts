import type { BootEventInput, BootEventKind } from '../contract/index.js';

/** Where edges send boot milestones; the HTTP/TFTP edges and the boot service call `emitBootEvent`. */
export interface BootEventSink {
  emitBootEvent(e: BootEventInput): void;
}

/** The sink used when no region is configured: milestones go nowhere. */
export const NO_BOOT_EVENTS: BootEventSink = Object.freeze({ emitBootEvent: () => undefined });

const LOADER = /(^|\/)(undionly\.kpxe|ipxe\.(efi|pxe|lkrn)|snponly\.efi|[a-z0-9_-]*\.kpxe|l?pxelinux\.0|shim[a-z0-9]*\.efi|grub[a-z0-9]*\.efi|boot[a-z0-9]*\.efi)$/i;

/** The milestone a served file stands for (for the HTTP/TFTP edges), or undefined for files that are none. */
export function bootEventForFile(path: string): BootEventKind | undefined {
  const m = /(^|\/)images\/(?:[^/]+\/){5}(kernel|initrd|squashfs)$/.exec(path);
  if (m) return `${m[2] as 'kernel' | 'initrd' | 'squashfs'}-fetched`;
  return LOADER.test(path) ? 'loader-fetched' : undefined;
}
