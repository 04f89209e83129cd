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

/** Firmware and NIC ROM files from Debian's ipxe-qemu and ovmf packages. */
export const FIRMWARE = {
  biosRom: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
  efiRom: '/usr/lib/ipxe/qemu/efi-e1000.rom',
  ovmfCode: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  ovmfVars: '/usr/share/OVMF/OVMF_VARS_4M.fd',
  /** Secure Boot OVMF (SMM) and a variable store with Microsoft's keys enrolled. */
  ovmfSecbootCode: '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd',
  ovmfMsVars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
} as const;
