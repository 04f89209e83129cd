import { describe, expect, it } from 'vitest';
import { hexOfIpv4, parseVirtualPath } from '../../../src/render/virtual-path.js';

describe('parseVirtualPath', () => {
  const table: Array<[string, unknown]> = [
    ['boot.ipxe', { type: 'entry' }],
    ['/boot.ipxe', { type: 'entry' }],
    ['pxelinux.cfg/01-52-54-00-ab-cd-ef', { type: 'node', kind: 'pxelinux', mac: '52:54:00:ab:cd:ef' }],
    ['pxelinux.cfg/4c4c4544-0042-3510-8056-b4c04f395231', { type: 'node', kind: 'pxelinux', uuid: '4c4c4544-0042-3510-8056-b4c04f395231' }],
    ['pxelinux.cfg/0A090032', { type: 'node', kind: 'pxelinux', hexIp: '0A090032' }],
    ['pxelinux.cfg/0A09', { type: 'node', kind: 'pxelinux', hexIp: '0A09' }],
    ['pxelinux.cfg/default', { type: 'default', kind: 'pxelinux' }],
    ['bios/pxelinux.cfg/default', { type: 'default', kind: 'pxelinux' }],
    ['grub/grub.cfg', { type: 'grub-entry' }],
    ['grub/arm64-efi/grub.cfg', { type: 'grub-entry' }],
    ['/grub/x86_64-efi/grub.cfg', { type: 'grub-entry' }],
    ['grub/arm64-efi/grub.cfg-52:54:00:ab:cd:ef', undefined],
    ['grub/riscv64-efi/grub.cfg', undefined],
    ['grub/grub.cfg-52:54:00:ab:cd:ef', { type: 'node', kind: 'grub', mac: '52:54:00:ab:cd:ef' }],
    ['grub/grub.cfg-01-52-54-00-ab-cd-ef', { type: 'node', kind: 'grub', mac: '52:54:00:ab:cd:ef' }],
    ['pxelinux.cfg/nonsense', undefined],
    ['undionly.kpxe', undefined],
    ['images/ubuntu/amd64/generic/noble/stable/kernel', undefined],
  ];
  for (const [name, want] of table) {
    it(`classifies ${name}`, () => {
      expect(parseVirtualPath(name)).toEqual(want);
    });
  }

  it('spells IPv4 in PXELINUX hex', () => {
    expect(hexOfIpv4('10.9.0.50')).toBe('0A090032');
  });
});
