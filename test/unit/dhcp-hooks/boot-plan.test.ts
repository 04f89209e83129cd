import { describe, expect, it } from 'vitest';
import { hasCode } from '../../../src/core/errors.js';
import type { LocalAddress } from '../../../src/net/interfaces.js';
import { type PlanInput, checkServerAddress, chooseRule, planBoot } from '../../../src/dhcp-hooks/boot-plan.js';
import type { ClientFacts } from '../../../src/dhcp-hooks/client-facts.js';
import { chooseNextServer, parseCidr } from '../../../src/dhcp-hooks/next-server.js';

const BASE: PlanInput = { serverAddress: '10.0.0.1', httpPort: 5248, bios: 'undionly.kpxe', uefi: 'snponly.efi', secureBoot: false };

function client(arches: number[], userClasses: string[] = [], hasIpxeEncap = false): ClientFacts {
  return { arches, userClasses, hasIpxeEncap, parameterList: [] };
}

function fileFor(input: PlanInput, c: ClientFacts): string | undefined {
  return chooseRule(planBoot(input), c)?.filename;
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return hasCode(err, 'E_DHCP') ? 'E_DHCP' : String(err);
  }
  return undefined;
}

describe('chooseRule: option 93 → loader', () => {
  it.each([
    [[0], 'undionly.kpxe'],
    [[7], 'snponly.efi'],
    [[9], 'snponly.efi'],
    [[16], 'http://10.0.0.1:5248/snponly.efi'],
    [[6], undefined],
    [[10], undefined],
    [[11], undefined],
    [[], undefined],
  ])('arch %j → %s', (arches, file) => {
    expect(fileFor(BASE, client(arches))).toBe(file);
  });

  it('gives BIOS clients pxelinux.0 when configured', () => {
    expect(fileFor({ ...BASE, bios: 'pxelinux.0' }, client([0]))).toBe('pxelinux.0');
  });

  it('gives UEFI clients ipxe.efi when configured', () => {
    expect(fileFor({ ...BASE, uefi: 'ipxe.efi' }, client([7]))).toBe('ipxe.efi');
  });

  it('gives arm64 clients the arm64 loader when one is installed', () => {
    expect(fileFor({ ...BASE, arm64Loader: 'ipxe-arm64.efi' }, client([11]))).toBe('ipxe-arm64.efi');
  });

  it('leaves arm64 out when the configured loader is not installed', () => {
    expect(fileFor({ ...BASE, arm64Loader: 'ipxe-arm64.efi', installed: () => false }, client([11]))).toBeUndefined();
  });

  it('sends arm64 HTTP boot clients an http URL', () => {
    expect(fileFor({ ...BASE, arm64Loader: 'ipxe-arm64.efi' }, client([19]))).toBe('http://10.0.0.1:5248/ipxe-arm64.efi');
  });

  it('serves shim to x86-64 UEFI under Secure Boot', () => {
    expect(fileFor({ ...BASE, secureBoot: true }, client([7]))).toBe('shimx64.efi');
  });

  it('serves shim over HTTP to HTTP boot clients under Secure Boot', () => {
    expect(fileFor({ ...BASE, secureBoot: true }, client([16]))).toBe('http://10.0.0.1:5248/shimx64.efi');
  });

  it('keeps the BIOS loader under Secure Boot', () => {
    expect(fileFor({ ...BASE, secureBoot: true }, client([0]))).toBe('undionly.kpxe');
  });

  it('marks HTTP boot rules to echo option 60 HTTPClient', () => {
    expect(chooseRule(planBoot(BASE), client([16]))?.httpClient).toBe(true);
  });

  it('takes the first of several option 93 values that has a loader', () => {
    expect(fileFor(BASE, client([6, 9]))).toBe('snponly.efi');
  });
});

describe('chooseRule: clients already running iPXE', () => {
  it('sends user class iPXE to the HTTP entry script', () => {
    expect(fileFor(BASE, client([0], ['iPXE']))).toBe('http://10.0.0.1:5248/boot.ipxe');
  });

  it('sends a client with option 175 to the HTTP entry script', () => {
    expect(fileFor(BASE, client([7], [], true))).toBe('http://10.0.0.1:5248/boot.ipxe');
  });
});

describe('checkServerAddress', () => {
  it.each(['0.0.0.0', '127.0.0.1', '127.1.2.3', '255.255.255.255', '224.0.0.1', 'fe80::1', 'edgeboot'])('rejects %s', (a) => {
    expect(code(() => checkServerAddress(a))).toBe('E_DHCP');
  });

  it('accepts a unicast address', () => {
    expect(checkServerAddress('192.168.1.10')).toBe('192.168.1.10');
  });
});

const ADDRS: LocalAddress[] = [
  { iface: 'lo', address: '127.0.0.1', family: 'IPv4', prefix: 8, internal: true, mac: '00:00:00:00:00:00' },
  { iface: 'eth0', address: '192.0.2.2', family: 'IPv4', prefix: 24, internal: false, mac: '02:00:00:00:00:01' },
  { iface: 'eth1', address: '10.77.0.1', family: 'IPv4', prefix: 24, internal: false, mac: '02:00:00:00:00:02' },
  { iface: 'eth1', address: 'fd00::1', family: 'IPv6', prefix: 64, internal: false, mac: '02:00:00:00:00:02' },
];

describe('chooseNextServer', () => {
  it('takes the IPv4 address of --interface', () => {
    expect(chooseNextServer({ iface: 'eth1' }, ADDRS)).toBe('10.77.0.1');
  });

  it('takes the local address inside --subnet', () => {
    expect(chooseNextServer({ subnet: '192.0.2.0/24' }, ADDRS)).toBe('192.0.2.2');
  });

  it('refuses to guess between several interfaces', () => {
    expect(code(() => chooseNextServer({}, ADDRS))).toBe('E_DHCP');
  });

  it('never picks loopback, even for lo', () => {
    expect(code(() => chooseNextServer({ iface: 'lo' }, ADDRS))).toBe('E_DHCP');
  });

  it('refuses an explicit 0.0.0.0', () => {
    expect(code(() => chooseNextServer({ explicit: '0.0.0.0' }, ADDRS))).toBe('E_DHCP');
  });

  it('refuses a subnet with no local address', () => {
    expect(code(() => chooseNextServer({ subnet: '172.16.0.0/16' }, ADDRS))).toBe('E_DHCP');
  });

  it('refuses a malformed CIDR', () => {
    expect(code(() => parseCidr('10.0.0.0/33'))).toBe('E_DHCP');
  });
});
