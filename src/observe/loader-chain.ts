import type { BootEvent } from './timeline.js';

/** Loader file names (without folders) and the short name a chain shows for them. */
const LOADER_NAMES: Array<[RegExp, string]> = [
  [/^(shim[a-z0-9]*|boot(x64|aa64))\.efi(\.signed)?$/i, 'shim'],
  [/^grub[a-z0-9]*\.efi(\.signed)?$/i, 'grub'],
  [/^snponly\.efi$/i, 'snponly'],
  [/^ipxe\.efi$/i, 'ipxe.efi'],
  [/^undionly\.k?kpxe$/i, 'undionly'],
  [/^l?pxelinux\.0$/i, 'pxelinux'],
];

/** The chain's short name for a loader file; other names read `loader` (keeps metric labels bounded). */
export function loaderName(detail: string): string | undefined {
  const base = detail.split('/').pop() ?? '';
  if (/\.c32$/i.test(base)) return undefined; // PXELINUX's own modules are part of pxelinux.
  return LOADER_NAMES.find(([re]) => re.test(base))?.[1] ?? 'loader';
}

/** The chain's name for a rendered boot script (`install ipxe/…` → `ipxe script`). */
function scriptName(detail: string): string {
  const kind = /\s(ipxe|grub|pxelinux)\//.exec(detail)?.[1];
  return kind === 'grub' || kind === 'pxelinux' ? `${kind} config` : `${kind ?? 'boot'} script`;
}

/**
 * Which loader chain the latest boot in `events` took, e.g. `shim → grub → grub config → kernel` or
 * `snponly → ipxe script → kernel`: its successful loader, script and kernel steps, repeats collapsed.
 * A loader or script after a kernel starts a new boot (leases cannot mark one: firmware and iPXE each
 * take one within a boot). Empty when the boot reached none of them.
 */
export function loaderChain(events: readonly BootEvent[]): string[] {
  let chain: string[] = [];
  for (const e of events) {
    if (e.outcome !== 'ok') continue;
    let step: string | undefined;
    if (e.stage === 'loader') step = loaderName(e.detail);
    else if (e.stage === 'script') step = scriptName(e.detail);
    else if (e.stage === 'kernel') step = 'kernel';
    if (!step) continue;
    if (step !== 'kernel' && chain.at(-1) === 'kernel') chain = [];
    if (chain.at(-1) !== step) chain.push(step);
  }
  return chain;
}
