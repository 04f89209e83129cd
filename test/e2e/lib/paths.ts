import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (three levels above test/e2e/lib). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where built guest artefacts are cached between runs; `EDGEBOOT_E2E_CACHE` overrides it. */
export function cacheRoot(): string {
  return process.env.EDGEBOOT_E2E_CACHE ?? resolve(REPO_ROOT, '.cache/e2e');
}

/** The built CLI the e2e tests start; `npm run build` makes it. */
export function edgebootCli(): string {
  const cli = resolve(REPO_ROOT, 'dist/src/cli/edgeboot.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` before the e2e tests.`);
  return cli;
}

const listed = new Map<string, string[]>();

/** The files an installed Debian package holds (`dpkg -L`); empty when it is not installed. */
export function packageFiles(pkg: string): string[] {
  let files = listed.get(pkg);
  if (!files) {
    try {
      files = execFileSync('dpkg', ['-L', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((l) => l.startsWith('/'));
    } catch {
      files = [];
    }
    listed.set(pkg, files);
  }
  return files;
}

/**
 * Where `pkg` installed a file named `name`. Releases move files (trixie's ipxe-qemu put the NIC ROMs
 * in /usr/share/qemu/ instead of /usr/lib/ipxe/qemu/), so ask dpkg instead of assuming a folder;
 * `preferUnder` breaks ties between copies. When the package or file is absent, a path naming both
 * is returned, so `requireTools` reports it as missing with the package to install.
 */
export function packageFile(pkg: string, name: string, preferUnder = '/usr/'): string {
  const hits = packageFiles(pkg).filter((f) => f.endsWith(`/${name}`) && existsSync(f));
  return hits.find((f) => f.startsWith(preferUnder)) ?? hits[0] ?? `/${pkg}-package-has-no/${name}`;
}

/** Firmware and NIC ROM files from Debian's ipxe-qemu, ovmf and qemu-efi-aarch64 packages, wherever this release puts them. */
export const FIRMWARE = {
  biosRom: packageFile('ipxe-qemu', 'pxe-e1000.rom'),
  ovmfCode: packageFile('ovmf', 'OVMF_CODE_4M.fd'),
  ovmfVars: packageFile('ovmf', 'OVMF_VARS_4M.fd'),
  /** Secure Boot OVMF (SMM) and a variable store with Microsoft's keys enrolled. */
  ovmfSecbootCode: packageFile('ovmf', 'OVMF_CODE_4M.secboot.fd'),
  ovmfMsVars: packageFile('ovmf', 'OVMF_VARS_4M.ms.fd'),
  /** arm64 UEFI (AAVMF, EDK2's ArmVirtQemu) for `qemu-system-aarch64 -M virt`. */
  aavmfCode: packageFile('qemu-efi-aarch64', 'AAVMF_CODE.fd'),
  aavmfVars: packageFile('qemu-efi-aarch64', 'AAVMF_VARS.fd'),
} as const;

/**
 * The UEFI e1000 ROM of ipxe-qemu. Only bookworm's still contains iPXE (trixie's NEWS.Debian: its
 * `efi-*.rom` are plain network drivers for OVMF's own PXE), so tests that need iPXE in UEFI boot
 * OVMF's own stack and hand it snponly.efi instead (`uefi-native`).
 */
export const EFI_E1000_ROM = packageFile('ipxe-qemu', 'efi-e1000.rom');

/** iPXE loaders from Debian's ipxe package, as edgeboot serves them. */
export const IPXE_LOADERS = {
  undionly: packageFile('ipxe', 'undionly.kpxe'),
  snponly: packageFile('ipxe', 'snponly.efi'),
  ipxeEfi: packageFile('ipxe', 'ipxe.efi', '/usr/lib/'),
} as const;

/** The Debian package each located file comes from, for `requireTools`' error message. */
export const PACKAGE_OF_FILE: Record<string, string> = Object.fromEntries([
  ...Object.values(FIRMWARE).map((f) => [f, f.includes('OVMF') ? 'ovmf' : f.includes('AAVMF') ? 'qemu-efi-aarch64' : 'ipxe-qemu']),
  [EFI_E1000_ROM, 'ipxe-qemu'],
  ...Object.values(IPXE_LOADERS).map((f) => [f, 'ipxe']),
]);
