import { describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import { loaderChain, loaderName } from '../../../src/observe/loader-chain.js';
import { classifyMiss, missDetail } from '../../../src/observe/not-found.js';
import { type BootEvent, BootTimeline } from '../../../src/observe/timeline.js';

const ev = (stage: BootEvent['stage'], detail: string, outcome = 'ok'): BootEvent => ({ at: 0, stage, via: 'tftp', detail, outcome });

describe('loaderChain', () => {
  it('names native PXE → snponly → iPXE script → kernel', () => {
    const events = [ev('dhcp', '10.0.0.5 arch 7'), ev('loader', 'snponly.efi'), ev('dhcp', '10.0.0.5 arch 7'), ev('script', 'install ipxe/debian'), ev('kernel', 'images/x/kernel'), ev('initrd', 'images/x/initrd'), ev('answer', 'preseed')];
    expect(loaderChain(events)).toEqual(['snponly', 'ipxe script', 'kernel']);
  });

  it('names shim → grub → grub config → kernel, whichever name shim was asked by', () => {
    const events = [ev('loader', 'bootx64.efi'), ev('loader', 'revocations_sku.efi', 'not found'), ev('loader', 'grubx64.efi'), ev('script', 'install grub/debian'), ev('kernel', 'images/x/kernel')];
    expect(loaderChain(events)).toEqual(['shim', 'grub', 'grub config', 'kernel']);
  });

  it('shows only the latest boot, and collapses a loader fetched again', () => {
    const events = [ev('loader', 'undionly.kpxe'), ev('script', 'install ipxe/x'), ev('kernel', 'images/x/kernel'), ev('loader', 'pxelinux.0'), ev('loader', 'ldlinux.c32'), ev('loader', 'pxelinux.0'), ev('script', 'install pxelinux/x')];
    expect(loaderChain(events)).toEqual(['pxelinux', 'pxelinux config']);
  });

  it('is empty before any loader, and ignores failed steps', () => {
    expect(loaderChain([ev('dhcp', 'x'), ev('loader', 'snponly.efi', 'not found')])).toEqual([]);
  });

  it('keeps metric labels bounded: unknown loader names read "loader"', () => {
    expect(loaderName('vendor-thing-123.efi')).toBe('loader');
    expect(loaderName('shimx64.efi.signed')).toBe('shim');
  });
});

describe('missing files', () => {
  it("tells shim's optional probes and config searches from real misses", () => {
    expect(classifyMiss('revocations_sbat.efi')).toBe('optional-probe');
    expect(classifyMiss('/EFI/BOOT/shim_certificate_0.efi')).toBe('optional-probe');
    expect(classifyMiss('pxelinux.cfg/0A0000')).toBe('config-search');
    expect(classifyMiss('grubx64.efi')).toBe('missing');
    expect(classifyMiss('images/debian/amd64/kernel')).toBe('missing');
  });

  it('never puts a query string or an answer capability in the detail', () => {
    expect(missDetail('/answers/52-54-00-00-00-01/c4p4b1l1ty/preseed?sig=x')).toBe('answers/52-54-00-00-00-01/[capability]/preseed');
  });
});

describe('events from an address no MAC is known at yet', () => {
  it('go to the MAC that learns the address within a minute (HTTP Boot fetches before the lease report)', () => {
    const t = new BootTimeline();
    const mac = parseMac('52:54:00:00:12:34');
    t.holdForIp('10.0.0.9', { at: Date.now(), stage: 'loader', via: 'http', detail: 'snponly.efi', outcome: 'ok' });
    t.holdForIp('10.0.0.8', { at: Date.now() - 120_000, stage: 'loader', via: 'http', detail: 'stale.efi', outcome: 'ok' });
    expect(t.events(mac)).toEqual([]);
    t.learnIp('10.0.0.9', mac);
    t.learnIp('10.0.0.8', mac);
    expect(t.events(mac).map((e) => e.detail)).toEqual(['snponly.efi']);
  });
});
