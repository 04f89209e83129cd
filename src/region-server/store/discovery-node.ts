/** Map whatever architecture a rack saw (iPXE buildarch, DHCP arch name) to the node model's `arch/subarch`. */
export function archOfDiscovery(arch: string | null | undefined): string {
  const a = (arch ?? '').toLowerCase();
  if (/^(arm64|aarch64)/.test(a)) return 'arm64/generic';
  if (/^(armhf|arm32|arm)$/.test(a)) return 'armhf/generic';
  return 'amd64/generic';
}
