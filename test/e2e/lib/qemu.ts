import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Netns } from './netns.js';
import { EFI_E1000_ROM, FIRMWARE } from './paths.js';

/**
 * `bios`: SeaBIOS with the iPXE e1000 ROM; `uefi`: OVMF with ipxe-qemu's EFI e1000 ROM (iPXE on
 * bookworm only: trixie's holds no iPXE, so tests that mean "UEFI through iPXE" use `uefi-native`);
 * `uefi-native`: OVMF's own network stack (virtio-net, no option ROM: native PXE and HTTP Boot);
 * `uefi-secureboot`: the same with Secure Boot enforced (SMM build, Microsoft keys enrolled);
 * `aavmf`: an arm64 machine (`qemu-system-aarch64 -M virt -cpu max`) with AAVMF's own virtio-net stack.
 */
export type Firmware = 'bios' | 'uefi' | 'uefi-native' | 'uefi-secureboot' | 'aavmf';

/**
 * Switch EDK2's PXE stacks off (`opt/org.tianocore/IPv4PXESupport`, `IPv6PXESupport`: OVMF and ArmVirtQemu link
 * OvmfPkg's PxeBcPcdProducerLib into UefiPxeBcDxe), so the boot manager goes on to UEFI HTTP Boot, the NIC's next
 * network boot option.
 */
export const HTTP_BOOT_ONLY = ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=n', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=n'];

/** Options for `bootGuest`. */
export interface GuestOptions {
  ns: Netns;
  /** Folder for the serial log and the per-run OVMF variable store. */
  dir: string;
  firmware: Firmware;
  mac: string;
  /** SMBIOS system UUID (iPXE's `${uuid}`). */
  uuid?: string;
  /** Hard limit for the whole boot, enforced by `timeout` and by the test process. */
  timeoutSeconds?: number;
  memoryMb?: number;
  /** Override the NIC option ROM (defaults: pxe-e1000.rom / efi-e1000.rom; none for the native modes). */
  romfile?: string;
  extraArgs?: string[];
  /** Stop the guest as soon as its serial console satisfies this (e.g. firmware that refused a loader never powers off). */
  until?: (serial: string) => boolean;
}

/** How a guest run ended and what it printed. */
export interface GuestRun {
  /** Path of the serial console log (qemu's stdout and stderr). */
  serialLogFile: string;
  serial: string;
  exitCode: number | null;
  /** True when the hard timeout stopped the guest. */
  timedOut: boolean;
  /** True when `until` matched and the guest was stopped for it. */
  stoppedByUntil: boolean;
  seconds: number;
}

/** The qemu command line for one network-booting guest on the namespace's tap0. */
export async function qemuArgs(o: GuestOptions): Promise<string[]> {
  const native = o.firmware === 'uefi-native' || o.firmware === 'uefi-secureboot' || o.firmware === 'aavmf';
  const args = ['-name', `edgeboot-e2e-${o.firmware}`, '-accel', 'tcg', '-m', String(o.memoryMb ?? (native ? 1024 : 512))];
  args.push('-nographic', '-no-reboot', '-serial', 'mon:stdio');
  args.push('-netdev', `tap,id=n0,ifname=${o.ns.tap},script=no,downscript=no`);
  if (native) {
    // OVMF's own virtio-net driver and PXE/HTTP Boot stack; `bootindex` makes the NIC the first boot option.
    if (o.firmware === 'uefi-secureboot') args.push('-machine', 'q35,smm=on', '-global', 'driver=cfi.pflash01,property=secure,value=on');
    // trixie's AAVMF (2025.02) offers network boot only with an RNG it accepts: a virtio-rng device does not do, a CPU
    // with FEAT_RNG (RNDR) does; `max` has it (cortex-a57 has not), and `pauth-impdef` keeps TCG's pointer auth cheap.
    else if (o.firmware === 'aavmf') args.push('-machine', 'virt', '-cpu', 'max,pauth-impdef=on');
    else args.push('-machine', 'q35');
    args.push('-device', `virtio-net-pci,netdev=n0,mac=${o.mac},romfile=${o.romfile ?? ''},bootindex=1`);
    // OVMF 2025.02 (trixie) offers no network boot option without a random number generator (its NEWS.Debian).
    args.push('-device', 'virtio-rng-pci');
  } else {
    const rom = o.romfile ?? (o.firmware === 'bios' ? FIRMWARE.biosRom : EFI_E1000_ROM);
    args.push('-boot', 'n', '-device', `e1000,netdev=n0,mac=${o.mac},romfile=${rom}`);
  }
  if (o.uuid) args.push('-uuid', o.uuid);
  if (o.firmware !== 'bios') {
    const [code, varsTemplate] =
      o.firmware === 'aavmf' ? [FIRMWARE.aavmfCode, FIRMWARE.aavmfVars] : o.firmware === 'uefi-secureboot' ? [FIRMWARE.ovmfSecbootCode, FIRMWARE.ovmfMsVars] : [FIRMWARE.ovmfCode, FIRMWARE.ovmfVars];
    // The firmware writes its variable store: every run gets its own copy.
    const vars = join(o.dir, `VARS-${o.firmware}.fd`);
    await copyFile(varsTemplate, vars);
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${code}`);
    args.push('-drive', `if=pflash,format=raw,unit=1,file=${vars}`);
  }
  args.push(...(o.extraArgs ?? []));
  return args;
}

/**
 * Boot a TCG guest inside the namespace and wait until it powers off (qemu exits with -no-reboot)
 * or the hard timeout fires. The guest is stopped by its PID in every case.
 */
export async function bootGuest(o: GuestOptions): Promise<GuestRun> {
  const limit = o.timeoutSeconds ?? 90;
  const serialLogFile = join(o.dir, `serial-${o.firmware}.log`);
  const qemu = o.firmware === 'aavmf' ? 'qemu-system-aarch64' : 'qemu-system-x86_64';
  const args = ['--kill-after=5', String(limit), qemu, ...(await qemuArgs(o))];
  const started = Date.now();
  const proc = o.ns.spawn(`qemu-${o.firmware}`, 'timeout', args, serialLogFile);
  // A second guard in case `timeout` itself is stuck.
  const guard = setTimeout(() => void proc.stop(1_000), (limit + 15) * 1000);
  let stoppedByUntil = false;
  const watch = o.until
    ? setInterval(() => {
        void readFile(serialLogFile, 'utf8')
          .then((text) => {
            if (!stoppedByUntil && o.until!(text)) {
              stoppedByUntil = true;
              void proc.stop(1_000);
            }
          })
          .catch(() => undefined);
      }, 500)
    : undefined;
  let exitCode: number | null;
  try {
    exitCode = await proc.exited;
  } finally {
    clearTimeout(guard);
    if (watch) clearInterval(watch);
    await proc.stop(1_000);
  }
  const seconds = (Date.now() - started) / 1000;
  const serial = await readFile(serialLogFile, 'utf8').catch(() => '');
  const timedOut = !stoppedByUntil && (exitCode === 124 || exitCode === 137 || exitCode === null);
  return { serialLogFile, serial, exitCode, timedOut, stoppedByUntil, seconds };
}
