import type { Node } from '../core/node.js';
import type { Purpose } from './kinds.js';

/** The fields the MAAS-order lookup uses; all optional for unknown machines. */
export interface LookupKey {
  purpose: Purpose;
  osystem?: string;
  arch?: string;
  subarch?: string;
  release?: string;
  hostname?: string;
}

/** The lookup key for a node (or an unknown machine of `arch`). */
export function lookupKeyFor(purpose: Purpose, node: Node | undefined, fallback: Partial<LookupKey> = {}): LookupKey {
  if (!node) return { purpose, ...fallback };
  return {
    purpose,
    osystem: fallback.osystem ?? node.osystem,
    arch: node.arch,
    subarch: node.subarch,
    release: fallback.release ?? node.release,
    hostname: node.hostname,
  };
}

/**
 * Template names to try, most specific first (MAAS's order):
 * purpose_os_arch_subarch_release_hostname → … → purpose_os → purpose → generic.
 * A missing field stops the chain at the last complete prefix.
 */
export function templateCandidates(key: LookupKey): string[] {
  const parts = [key.osystem, key.arch, key.subarch, key.release, key.hostname];
  const names: string[] = [];
  let complete = 0;
  while (complete < parts.length && parts[complete]) complete++;
  for (let n = complete; n >= 1; n--) names.push([key.purpose, ...parts.slice(0, n)].join('_'));
  names.push(key.purpose, 'generic');
  return names;
}
