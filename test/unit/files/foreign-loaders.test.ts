import { describe, expect, it } from 'vitest';
import { httpBootNote } from '../../../src/files/foreign-loaders.js';

// Seen under AAVMF UEFI HTTP Boot (test/e2e/arm64.test.ts): bookworm's signed arm64 GRUB 2.06 stops at grub> without
// asking for its config (no http module), trixie's 2.12 reads config, kernel and initrd over HTTP.
describe('httpBootNote', () => {
  it('warns about a signed GRUB before 2.12 and names the way out', () => {
    const note = httpBootNote('grub-efi-arm64-signed', '1+2.06+13+deb12u2');
    expect(note).toBe(
      'grub-efi-arm64-signed 1+2.06+13+deb12u2 (GRUB 2.06) has no http module: it boots by PXE, but UEFI HTTP Boot clients stop at the grub> prompt; fetch with --suite trixie (GRUB 2.12) for HTTP Boot.',
    );
  });

  it('is silent for GRUB 2.12 and later', () => {
    expect(httpBootNote('grub-efi-arm64-signed', '1+2.12+9+deb13u4')).toBeUndefined();
    expect(httpBootNote('grub-efi-arm64-signed', '1+2.14+1')).toBeUndefined();
    expect(httpBootNote('grub-efi-arm64-signed', '2+3.0+1')).toBeUndefined();
  });

  it('is silent for other packages and for versions it cannot read', () => {
    expect(httpBootNote('shim-signed', '1.51~1+deb13u1+16.1-2~deb13u1')).toBeUndefined();
    expect(httpBootNote('grub-efi-arm64-signed', 'weird')).toBeUndefined();
  });
});
