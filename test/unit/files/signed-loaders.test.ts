import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgebootError } from '../../../src/core/errors.js';
import { describeLoader, resolveBootFile, signedLoaderFor } from '../../../src/files/boot-files.js';

// A Secure Boot name must never be answered with an unsigned file: shim-unsigned puts an unsigned
// shimx64.efi right beside shim-signed's shimx64.efi.signed, and the firmware says "Access Denied" to it.
// The folders below are laid out the way the Debian packages install them.

let base: string;
let opts: { root: string; loaderDirs: string[] };

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'edgeboot-signed-'));
  const shim = join(base, 'usr/lib/shim');
  const grub = join(base, 'usr/lib/grub/x86_64-efi-signed');
  const ipxe = join(base, 'usr/lib/ipxe');
  const root = join(base, 'boot');
  for (const d of [shim, grub, ipxe, root]) await mkdir(d, { recursive: true });
  await writeFile(join(shim, 'shimx64.efi'), 'UNSIGNED shim (shim-unsigned)');
  await writeFile(join(shim, 'shimx64.efi.signed'), 'SIGNED shim');
  await writeFile(join(shim, 'mmx64.efi'), 'UNSIGNED mm');
  await writeFile(join(shim, 'mmx64.efi.signed'), 'SIGNED mm');
  await writeFile(join(grub, 'grubx64.efi.signed'), 'SIGNED disk grub (prefix /EFI/debian)');
  await writeFile(join(grub, 'grubnetx64.efi.signed'), 'SIGNED network grub (prefix /grub)');
  await writeFile(join(ipxe, 'snponly.efi'), 'ipxe');
  await writeFile(join(root, 'grubx64.efi'), 'UNSIGNED grub someone copied into boot_root');
  opts = { root, loaderDirs: [ipxe, shim, grub] };
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('Secure Boot loader names resolve to signed files only', () => {
  const cases: Array<[string, string]> = [
    ['shimx64.efi', 'usr/lib/shim/shimx64.efi.signed'],
    ['bootx64.efi', 'usr/lib/shim/shimx64.efi.signed'],
    ['BOOTX64.EFI', 'usr/lib/shim/shimx64.efi.signed'],
    ['mmx64.efi', 'usr/lib/shim/mmx64.efi.signed'],
    ['grubx64.efi', 'usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed'],
    ['efi/boot/grubx64.efi', 'usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed'],
  ];
  for (const [name, file] of cases) {
    it(`${name} → ${file}`, async () => {
      expect((await resolveBootFile(name, opts)).path).toBe(join(base, file));
    });
  }

  it('an unsigned shimx64.efi beside the signed one is reported as not served', async () => {
    const r = await describeLoader('shimx64.efi', opts);
    expect(r.path).toBe(join(base, 'usr/lib/shim/shimx64.efi.signed'));
    expect(r.ignored).toEqual([join(base, 'usr/lib/shim/shimx64.efi')]);
    expect(r.note).toContain('shimx64.efi.signed');
  });

  it('an unsigned grubx64.efi in boot_root is not served under the signed name', async () => {
    const r = await describeLoader('grubx64.efi', opts);
    expect(r.path).toBe(join(base, 'usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed'));
    expect(r.ignored).toEqual([join(base, 'boot/grubx64.efi')]);
  });

  it('without shim-signed the name is not found, with a sentence saying what to install', async () => {
    const err = await resolveBootFile('shimx64.efi', { root: opts.root, loaderDirs: [join(base, 'usr/lib/ipxe')] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EdgebootError);
    expect((err as EdgebootError).code).toBe('E_NOT_FOUND');
    expect((err as Error).message).toMatch(/only as a signed shimx64\.efi\.signed.*install shim-signed/);
  });

  it('ordinary names still come from boot_root first, then the loader directories', async () => {
    await writeFile(join(opts.root, 'snponly.efi'), 'site build');
    expect((await resolveBootFile('snponly.efi', opts)).path).toBe(join(opts.root, 'snponly.efi'));
    await rm(join(opts.root, 'snponly.efi'));
    expect((await resolveBootFile('snponly.efi', opts)).path).toBe(join(base, 'usr/lib/ipxe/snponly.efi'));
  });

  it('the signed table covers exactly the shim, MokManager and GRUB names of x64 and arm64', () => {
    expect(signedLoaderFor('grubaa64.efi')).toBe('grubnetaa64.efi.signed');
    expect(signedLoaderFor('shimx64.efi.signed')).toBeUndefined();
    expect(signedLoaderFor('snponly.efi')).toBeUndefined();
  });
});
