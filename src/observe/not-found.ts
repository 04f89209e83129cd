import { printable } from '../core/mac.js';
import { parseVirtualPath } from '../render/virtual-path.js';

/**
 * Files shim asks for on the chance that they exist (shim 15.8/16: SKU and SBAT revocation updates, an
 * extra certificate). Missing is the normal case, so they are answered "not found" without noise.
 */
export const SHIM_OPTIONAL_FILES: readonly string[] = ['revocations_sku.efi', 'revocations_sbat.efi', 'shim_certificate_0.efi'];

/** How a request for a missing file is reported. */
export type MissKind = 'missing' | 'optional-probe' | 'config-search';

/**
 * Classify a request that found no file: shim's optional probes and the names PXELINUX/GRUB try while
 * searching for their config (hex-IP, UUID) are expected misses; anything else is a missing file the
 * operator needs to see, usually the reason a boot stopped.
 */
export function classifyMiss(name: string): MissKind {
  const clean = name.split('?')[0]!.replace(/^\/+/, '');
  const base = clean.split('/').pop()!.toLowerCase();
  if (SHIM_OPTIONAL_FILES.includes(base)) return 'optional-probe';
  if (parseVirtualPath(clean)) return 'config-search';
  return 'missing';
}

/** A requested name with the capability of an answer-file path (`answers/<mac>/<capability>/…`) masked. */
export function maskCapability(name: string): string {
  return name.replace(/^(\/*answers\/[^/]+\/)[^/]+/, '$1[capability]');
}

/** The requested name as it may appear in a log line or timeline event: no query string, answer capabilities masked, printable, bounded. */
export function missDetail(name: string): string {
  return printable(maskCapability((name.split('?')[0] ?? '').replace(/^\/+/, '')), 120);
}
