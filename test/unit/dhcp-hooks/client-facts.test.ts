import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootClientKind, clientFacts, isIpxe, parseClientUuid, parseUserClasses } from '../../../src/dhcp-hooks/client-facts.js';
import { decodeDhcp } from '../../../src/dhcp-hooks/dhcp-packet.js';
import { Opt } from '../../../src/dhcp-hooks/dhcp-options.js';

function facts(name: string) {
  return clientFacts(decodeDhcp(readFileSync(join(import.meta.dirname, '../../fixtures/dhcp', `${name}.bin`))));
}

describe('clientFacts on the captured iPXE ROM DISCOVERs', () => {
  it('reads SeaBIOS: arch 0, UNDI 2.1, PXEClient vendor class, iPXE user class', () => {
    const f = facts('seabios-ipxe-discover');
    expect({ arches: f.arches, ndi: f.ndi, vendor: f.vendorClass, user: f.userClasses, max: f.maxMessageSize }).toEqual({
      arches: [0],
      ndi: { type: 1, major: 2, minor: 1 },
      vendor: 'PXEClient:Arch:00000:UNDI:002001',
      user: ['iPXE'],
      max: 1472,
    });
  });

  it('reads OVMF: arch 7 and the UEFI UNDI vendor class', () => {
    const f = facts('ovmf-ipxe-discover');
    expect([f.arches, f.vendorClass]).toEqual([[7], 'PXEClient:Arch:00007:UNDI:003010']);
  });

  it('reads the client identifier (option 61) as hardware type 1 plus the MAC', () => {
    expect(facts('seabios-ipxe-discover').clientId?.toString('hex')).toBe('01525400d40101');
  });

  it('reads the parameter request list (option 55) including 175', () => {
    expect(facts('seabios-ipxe-discover').parameterList).toContain(Opt.ipxeEncap);
  });

  it('reads option 97 as the SMBIOS UUID qemu was given', () => {
    expect(facts('seabios-ipxe-discover').uuid).toBe('4c4c4544-0042-3510-8052-b3c04f4e3132');
  });

  it('recognises the ROM as iPXE and as a PXE client', () => {
    const f = facts('ovmf-ipxe-discover');
    expect([isIpxe(f), bootClientKind(f)]).toEqual([true, 'pxe']);
  });
});

describe('parseUserClasses (option 77)', () => {
  it('splits RFC 3004 framed classes', () => {
    expect(parseUserClasses(Buffer.from('\x04iPXE\x03foo', 'latin1'))).toEqual(['iPXE', 'foo']);
  });

  it('takes an unframed value (iPXE) as one class', () => {
    expect(parseUserClasses(Buffer.from('iPXE'))).toEqual(['iPXE']);
  });

  it('reads an absent option as no classes', () => {
    expect(parseUserClasses(undefined)).toEqual([]);
  });
});

describe('parseClientUuid (option 97)', () => {
  it('swaps the first three little-endian fields', () => {
    const raw = Buffer.from('0044454c4c420010358052b3c04f4e3132', 'hex');
    expect(parseClientUuid(raw)).toBe('4c4c4544-0042-3510-8052-b3c04f4e3132');
  });

  it('ignores a value with the wrong type byte', () => {
    expect(parseClientUuid(Buffer.from('0144454c4c420010358052b3c04f4e3132', 'hex'))).toBeUndefined();
  });

  it('ignores a value of the wrong length', () => {
    expect(parseClientUuid(Buffer.from('0044454c4c', 'hex'))).toBeUndefined();
  });
});

describe('bootClientKind (option 60)', () => {
  it.each([
    ['PXEClient:Arch:00007:UNDI:003016', 'pxe'],
    ['HTTPClient:Arch:00016:UNDI:003001', 'http'],
    ['MSFT 5.0', undefined],
    [undefined, undefined],
  ])('%s → %s', (vendor, kind) => {
    expect(bootClientKind({ vendorClass: vendor } as never)).toBe(kind);
  });
});

describe("clientFacts on OVMF's own PXE and on the snponly.efi it loads (test/e2e/dhcp-capture.test.ts)", () => {
  it("reads OVMF's own PXE DISCOVER: arch 7, UNDI 3.0, no iPXE user class, no option 175", () => {
    const f = facts('ovmf-native-discover');
    expect({ arches: f.arches, vendor: f.vendorClass, ndi: f.ndi, ipxe: isIpxe(f), kind: bootClientKind(f) }).toEqual({
      arches: [7],
      vendor: 'PXEClient:Arch:00007:UNDI:003000',
      ndi: { type: 1, major: 3, minor: 0 },
      ipxe: false,
      kind: 'pxe',
    });
  });

  it('reads the iPXE inside snponly.efi as iPXE on the same machine (same UUID)', () => {
    const f = facts('ovmf-snponly-discover');
    expect([isIpxe(f), f.uuid]).toEqual([true, facts('ovmf-native-discover').uuid]);
  });
});
