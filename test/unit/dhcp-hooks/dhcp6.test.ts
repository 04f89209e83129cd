import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkServerAddress6, planBoot6 } from '../../../src/dhcp-hooks/boot-plan6.js';
import { edk2AcceptsVendorClass, encodeDhcp6, parseDhcp6, vendorClassData } from '../../../src/dhcp-hooks/dhcp6-packet.js';
import { generateDnsmasq6 } from '../../../src/dhcp-hooks/gen-dnsmasq6.js';
import { kea6Fragment } from '../../../src/dhcp-hooks/gen-kea6.js';
import { chooseServer6 } from '../../../src/dhcp-hooks/next-server6.js';
import type { LocalAddress } from '../../../src/net/interfaces.js';

const fixture = (name: string) => Buffer.from(readFileSync(resolve(import.meta.dirname, '../../fixtures/dhcp6', `${name}.hex`), 'utf8').trim(), 'hex');
const reply = (option16: Buffer) => parseDhcp6(encodeDhcp6({ type: 2, transactionId: 1, options: [{ code: 16, data: option16 }] }));

describe('option 16 as EDK2 reads it (golden bytes captured from dnsmasq 2.90 and Kea 2.2)', () => {
  it("dnsmasq's two-string form and Kea's RFC form are both HTTP offers to EDK2", () => {
    expect(fixture('dnsmasq-httpclient-option16').toString('hex')).toBe('00024542000a48545450436c69656e74');
    expect(edk2AcceptsVendorClass(reply(fixture('dnsmasq-httpclient-option16')), 'HTTPClient')).toBe(true);
    expect(edk2AcceptsVendorClass(reply(fixture('kea-httpclient-option16')), 'HTTPClient')).toBe(true);
    expect(fixture('dnsmasq-httpclient-option59').toString('utf8')).toBe('http://[fd80:2a:16::1]:5248/snponly.efi');
  });

  it("dnsmasq's plain option6:16,HTTPClient (a bare length-prefixed string) is not", () => {
    expect(edk2AcceptsVendorClass(reply(Buffer.from('000a48545450436c69656e74', 'hex')), 'HTTPClient')).toBe(false);
  });

  it('PXEv6 also wants enterprise 343', () => {
    expect(edk2AcceptsVendorClass(reply(vendorClassData(343, ['PXEClient'])), 'PXEClient')).toBe(true);
    expect(edk2AcceptsVendorClass(reply(vendorClassData(0x24542, ['PXEClient'])), 'PXEClient')).toBe(false);
  });

  it('refuses malformed messages in one sentence', () => {
    expect(() => parseDhcp6(Buffer.from('02', 'hex'))).toThrow(/at least 4 bytes/);
    expect(() => parseDhcp6(Buffer.from('0200000100100010aabb', 'hex'))).toThrow(/option 16 claims 16 bytes but only 2 remain/);
  });
});

describe('the DHCPv6 plan', () => {
  const plan = planBoot6({ serverAddress: 'fd80:21::1', httpPort: 5248, uefi: 'snponly.efi', arm64Loader: 'grubaa64.efi', secureBoot: false });

  it('gives HTTP Boot an http URL, PXEv6 a tftp URL and iPXE the entry script, all bracketed', () => {
    const url = Object.fromEntries(plan.rules.map((r) => [r.name, r.url]));
    expect(url['ipxe']).toBe('http://[fd80:21::1]:5248/boot.ipxe');
    expect(url['http-x64']).toBe('http://[fd80:21::1]:5248/snponly.efi');
    expect(url['pxe6-x64']).toBe('tftp://[fd80:21::1]/snponly.efi');
    expect(url['http-arm64']).toBe('http://[fd80:21::1]:5248/grubaa64.efi');
    expect(url['pxe6-arm64']).toBe('tftp://[fd80:21::1]/grubaa64.efi');
  });

  it('leaves arm64 out while its loader is missing, and says so', () => {
    const p = planBoot6({ serverAddress: 'fd80:21::1', httpPort: 5248, uefi: 'snponly.efi', arm64Loader: 'grubaa64.efi', secureBoot: false, installed: () => false });
    expect(p.rules.some((r) => r.name.includes('arm64'))).toBe(false);
    expect(p.notes.join(' ')).toMatch(/arm64/);
  });

  it('refuses addresses no firmware can use', () => {
    for (const bad of ['fe80::1', 'fe80::1%eth0', '::1', '::', 'ff02::1', '10.0.0.1']) expect(() => checkServerAddress6(bad)).toThrow();
    expect(checkServerAddress6('2001:db8::5')).toBe('2001:db8::5');
  });

  it('dnsmasq: every firmware rule excludes iPXE, and HTTP Boot rules echo HTTPClient', () => {
    const text = generateDnsmasq6(plan, { subnet: 'fd80:21::/64' });
    expect(text).toContain('dhcp-vendorclass=set:edgeboot6-http-x64,enterprise:343,HTTPClient:Arch:00016');
    for (const line of text.split('\n').filter((l) => l.startsWith('dhcp-option') && !l.includes('tag:edgeboot6-ipxe,option6'))) {
      expect(line).toContain('tag:!edgeboot6-ipxe');
    }
    expect(text.match(/option6:16,EB,HTTPClient/g)).toHaveLength(2);
    expect(text).toContain('enable-ra');
    expect(text).toContain('dhcp-range=fd80:21::1000,fd80:21::1fff,slaac,64,12h');
  });

  it('Kea: classes test the enterprise number and the class string at byte 6, and send option 16 in RFC form', () => {
    const classes = kea6Fragment(plan).Dhcp6['client-classes'];
    const http = classes.find((c) => c.name === 'edgeboot6-http-x64')!;
    expect(http.test).toContain("substring(option[16].hex, 6, 21) == 'HTTPClient:Arch:00016'");
    expect(http['option-data'].find((o) => o.name === 'vendor-class')!.data).toBe('00000157000a48545450436c69656e74');
    expect(classes[0]!.name).toBe('edgeboot6-ipxe');
  });
});

describe('the IPv6 server address for dhcp-config', () => {
  const local: LocalAddress[] = [
    { iface: 'lo', address: '::1', family: 'IPv6', prefix: 128, internal: true, mac: '' },
    { iface: 'eth0', address: 'fe80::1', family: 'IPv6', prefix: 64, internal: false, mac: '' },
    { iface: 'eth0', address: 'fd80:21::1', family: 'IPv6', prefix: 64, internal: false, mac: '' },
    { iface: 'eth1', address: 'fd80:22::1', family: 'IPv6', prefix: 64, internal: false, mac: '' },
  ];

  it('is the address in --subnet, or the first usable one on --interface', () => {
    expect(chooseServer6({ subnet: 'fd80:22::/64' }, local)).toBe('fd80:22::1');
    expect(chooseServer6({ iface: 'eth0' }, local)).toBe('fd80:21::1');
  });

  it("prefers the operator's address to SLAAC and privacy addresses in the same prefix", () => {
    const many: LocalAddress[] = [
      { iface: 'eth0', address: 'fd80:21::5054:ff:fe00:aa', family: 'IPv6', prefix: 64, internal: false, mac: '52:54:00:00:00:aa' },
      { iface: 'eth0', address: 'fd80:21::9c3e:41d2:77aa:1b05', family: 'IPv6', prefix: 64, internal: false, mac: '52:54:00:00:00:aa' },
      { iface: 'eth0', address: 'fd80:21::1', family: 'IPv6', prefix: 64, internal: false, mac: '52:54:00:00:00:aa' },
    ];
    expect(chooseServer6({ subnet: 'fd80:21::/64' }, many)).toBe('fd80:21::1');
    expect(chooseServer6({ iface: 'eth0' }, many)).toBe('fd80:21::1');
    expect(chooseServer6({ subnet: 'fd80:21::/64' }, many.slice(0, 2))).toBe('fd80:21::5054:ff:fe00:aa');
  });

  it('names the candidates when nothing fits', () => {
    expect(() => chooseServer6({ subnet: 'fd80:99::/64' }, local)).toThrow(/no global or unique-local IPv6 address of this host lies in fd80:99::\/64; candidates: eth0 fd80:21::1\/64, eth1 fd80:22::1\/64/);
    expect(() => chooseServer6({ subnet: 'nonsense/64' }, local)).toThrow(/is not an IPv6 prefix/);
  });
});
