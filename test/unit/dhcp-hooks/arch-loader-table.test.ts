import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { type PlanInput, chooseRule, planBoot } from '../../../src/dhcp-hooks/boot-plan.js';
import type { ClientFacts } from '../../../src/dhcp-hooks/client-facts.js';
import { planInputFromConfig } from '../../../src/dhcp-hooks/from-config.js';
import { DEFAULT_ARM64_LOADER, loaderInstalled } from '../../../src/files/loader-present.js';

// The arch → loader table as the DHCP generators and proxyDHCP answer it, with and without the arm64 loaders
// that `edgeboot loaders fetch --arch arm64` installs.

const dir = mkdtempSync(join(tmpdir(), 'edgeboot-archtable-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const root = join(dir, 'root');
const empty = join(dir, 'empty');
const arm64 = join(dir, 'loaders/arm64');
for (const d of [root, empty, arm64]) mkdirSync(d, { recursive: true });
writeFileSync(join(arm64, 'grubnetaa64.efi.signed'), 'MZ');
writeFileSync(join(arm64, 'shimaa64.efi.signed'), 'MZ');
// An unsigned twin in boot_root must not count as the Secure Boot name being installed.
writeFileSync(join(root, 'grubaa64.efi'), 'unsigned');

function client(arches: number[]): ClientFacts {
  return { arches, userClasses: [], hasIpxeEncap: false, parameterList: [] };
}

function planFromConfig(loaderDirs: string[], extra = ''): PlanInput {
  const file = join(dir, `edgeboot-${loaderDirs.length}-${extra.length}.yaml`);
  writeFileSync(file, `inventory: ${join(dir, 'inv.yaml')}\nboot_root: ${root}\nloader_dirs: [${loaderDirs.join(', ')}]\n${extra}`);
  writeFileSync(join(dir, 'inv.yaml'), 'nodes: []\n');
  return planInputFromConfig(loadConfig(file), '10.0.0.1');
}

describe('arch → loader table', () => {
  const withArm64 = planBoot(planFromConfig([arm64]));
  const withoutArm64 = planBoot(planFromConfig([empty]));
  const secure = planBoot(planFromConfig([arm64], 'dhcp:\n  secure_boot: true\n'));

  it.each([
    [0, 'undionly.kpxe', 'undionly.kpxe'],
    [7, 'snponly.efi', 'snponly.efi'],
    [9, 'snponly.efi', 'snponly.efi'],
    [11, 'grubaa64.efi', undefined],
    [16, 'http://10.0.0.1:5248/snponly.efi', 'http://10.0.0.1:5248/snponly.efi'],
    [19, 'http://10.0.0.1:5248/grubaa64.efi', undefined],
    [6, undefined, undefined],
    [10, undefined, undefined],
  ])('arch %i → %s with the arm64 loaders, %s without', (arch, withFile, withoutFile) => {
    expect(chooseRule(withArm64, client([arch]))?.filename).toBe(withFile);
    expect(chooseRule(withoutArm64, client([arch]))?.filename).toBe(withoutFile);
  });

  it('arm64 HTTP Boot (19) carries HTTPClient, arm64 PXE (11) does not', () => {
    expect(chooseRule(withArm64, client([19]))?.httpClient).toBe(true);
    expect(chooseRule(withArm64, client([11]))?.httpClient).toBe(false);
  });

  it.each([
    [7, 'shimx64.efi'],
    [9, 'shimx64.efi'],
    [11, 'shimaa64.efi'],
    [16, 'http://10.0.0.1:5248/shimx64.efi'],
    [19, 'http://10.0.0.1:5248/shimaa64.efi'],
  ])('Secure Boot: arch %i → %s', (arch, file) => {
    expect(chooseRule(secure, client([arch]))?.filename).toBe(file);
  });

  it('says how to install the arm64 loaders when they are missing', () => {
    expect(withoutArm64.notes.join('\n')).toMatch(/11 and 19 \(arm64 UEFI\) get no boot file: grubaa64\.efi is not installed \(run "edgeboot loaders fetch --arch arm64"\)/);
    expect(withArm64.notes.join('\n')).not.toMatch(/arm64 UEFI\) get no boot file/);
  });

  it('counts a Secure Boot name as installed only by its .signed file in a loader directory', () => {
    expect(DEFAULT_ARM64_LOADER).toBe('grubaa64.efi');
    expect(loaderInstalled('grubaa64.efi', { root, loaderDirs: [arm64] })).toBe(true);
    expect(loaderInstalled('grubaa64.efi', { root, loaderDirs: [empty] })).toBe(false);
    expect(loaderInstalled('../etc/passwd', { root, loaderDirs: [empty] })).toBe(false);
  });
});
