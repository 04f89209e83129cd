import { describe, expect, it } from 'vitest';
import { hasCode } from '../../../src/core/errors.js';
import { parseMac, pxelinuxMacName, tryParseMac } from '../../../src/core/mac.js';

describe('parseMac', () => {
  const good: Array<[string, string]> = [
    ['52:54:00:12:34:56', '52:54:00:12:34:56'],
    ['52:54:00:AB:CD:EF', '52:54:00:ab:cd:ef'],
    ['52-54-00-AB-CD-EF', '52:54:00:ab:cd:ef'],
    ['5254.00ab.cdef', '52:54:00:ab:cd:ef'],
    ['525400ABCDEF', '52:54:00:ab:cd:ef'],
    ['52-54-00-ab-cd-ef', '52:54:00:ab:cd:ef'], // iPXE ${net0/mac:hexhyp}
    ['  52:54:00:ab:cd:ef  ', '52:54:00:ab:cd:ef'],
    ['2:4:0:a:b:c', '02:04:00:0a:0b:0c'],
    ['01-52-54-00-ab-cd-ef', '52:54:00:ab:cd:ef'], // PXELINUX ARP-type prefix
  ];
  for (const [input, want] of good) {
    it(`normalises ${JSON.stringify(input)}`, () => {
      expect(parseMac(input)).toBe(want);
    });
  }

  const bad = ['', 'zz:zz:zz:zz:zz:zz', '52:54:00:12:34', '52:54:00:12:34:56:78', '5254.00ab.cdef.0000', '52:54:00:12:34:5g', '52_54_00_12_34_56', '52:54:00:12:34:56:', '${net0/mac}'];
  for (const input of bad) {
    it(`rejects ${JSON.stringify(input)} with E_MAC`, () => {
      let caught: unknown;
      try {
        parseMac(input);
      } catch (err) {
        caught = err;
      }
      expect(hasCode(caught, 'E_MAC')).toBe(true);
    });
  }

  it('never echoes control characters in its error message', () => {
    expect(() => parseMac('ab\ncd')).toThrow(/"ab\?cd"/);
  });

  it('tryParseMac answers undefined for garbage', () => {
    expect(tryParseMac('nope')).toBeUndefined();
  });

  it('names the PXELINUX config file', () => {
    expect(pxelinuxMacName(parseMac('52:54:00:ab:cd:ef'))).toBe('01-52-54-00-ab-cd-ef');
  });
});
