import { describe, expect, it } from 'vitest';
import { hasCode } from '../../../src/core/errors.js';
import { acceptReport } from '../../../src/dhcp-hooks/lease-intake.js';
import { readServerCall } from '../../../src/dhcp-hooks/lease-report.js';

describe('readServerCall: dnsmasq --dhcp-script', () => {
  const env = {
    DNSMASQ_TAGS: 'edgeboot-ipxe edgeboot-arch-7 br0',
    DNSMASQ_VENDOR_CLASS: 'PXEClient:Arch:00007:UNDI:003010',
    DNSMASQ_USER_CLASS0: 'iPXE',
    DNSMASQ_CLIENT_ID: '01:52:54:00:d4:01:02',
  };

  it('reads action, MAC, IP and host name from the arguments', () => {
    const c = readServerCall(['add', '52:54:00:d4:01:02', '10.77.0.50', 'node01'], env);
    expect([c?.server, c?.event, c?.mac, c?.ip, c?.hostname]).toEqual(['dnsmasq', 'add', '52:54:00:d4:01:02', '10.77.0.50', 'node01']);
  });

  it('reads the architecture from the generated edgeboot-arch tag', () => {
    expect(readServerCall(['old', '52:54:00:d4:01:02', '10.77.0.50'], env)?.arches).toEqual([7]);
  });

  it('reads vendor and user class from the environment', () => {
    const c = readServerCall(['add', '52:54:00:d4:01:02', '10.77.0.50'], env);
    expect([c?.vendorClass, c?.userClass]).toEqual(['PXEClient:Arch:00007:UNDI:003010', 'iPXE']);
  });

  it('ignores calls that are not about a lease', () => {
    expect(readServerCall(['tftp', '1234', '10.77.0.50', '/srv/undionly.kpxe'], {})).toBeUndefined();
  });

  it('ignores DHCPv6 leases', () => {
    expect(readServerCall(['add', '00:01:00:01', 'fd00::5'], {})).toBeUndefined();
  });
});

describe('readServerCall: ISC dhcpd execute()', () => {
  it('reads the positional values the generated snippet passes', () => {
    const c = readServerCall(['isc', 'commit', '52:54:0:d4:1:1', '10.77.0.51', 'node02', '0', 'PXEClient:Arch:00000:UNDI:002001', 'iPXE', '0:44:45:4c:4c:42:0:10:35:80:52:b3:c0:4f:4e:31:32'], {});
    expect(c).toEqual({
      server: 'isc',
      event: 'commit',
      mac: '52:54:0:d4:1:1',
      ip: '10.77.0.51',
      hostname: 'node02',
      arches: [0],
      vendorClass: 'PXEClient:Arch:00000:UNDI:002001',
      userClass: 'iPXE',
      uuidHex: '0044454c4c420010358052b3c04f4e3132',
    });
  });

  it('reads empty strings as absent values', () => {
    const c = readServerCall(['isc', 'commit', '52:54:0:d4:1:1', '10.77.0.51', '', '', '', '', ''], {});
    expect([c?.hostname, c?.arches, c?.uuidHex]).toEqual([undefined, undefined, undefined]);
  });
});

describe('readServerCall: Kea run_script', () => {
  it('reads leases4_committed from LEASES4_AT0_*', () => {
    const env = { LEASES4_SIZE: '1', LEASES4_AT0_ADDRESS: '10.77.0.52', LEASES4_AT0_HWADDR: '52:54:00:d4:01:03', LEASES4_AT0_HOSTNAME: 'node03' };
    const c = readServerCall(['leases4_committed'], env);
    expect([c?.server, c?.mac, c?.ip, c?.hostname]).toEqual(['kea', '52:54:00:d4:01:03', '10.77.0.52', 'node03']);
  });

  it('ignores leases4_committed without leases', () => {
    expect(readServerCall(['leases4_committed'], { LEASES4_SIZE: '0' })).toBeUndefined();
  });

  it('reads lease4_renew from LEASE4_*', () => {
    const c = readServerCall(['lease4_renew'], { LEASE4_ADDRESS: '10.77.0.52', LEASE4_HWADDR: '52:54:00:d4:01:03' });
    expect([c?.event, c?.ip]).toEqual(['lease4_renew', '10.77.0.52']);
  });

  it('ignores hook points that are not about a lease', () => {
    expect(readServerCall(['lease4_select'], { LEASE4_ADDRESS: '10.77.0.52', LEASE4_HWADDR: '52:54:00:d4:01:03' })).toBeUndefined();
  });
});

describe('acceptReport', () => {
  const good = { v: 1, server: 'isc', event: 'commit', mac: '52:54:0:d4:1:1', ip: '10.77.0.51', arches: [7], uuidHex: '0044454c4c420010358052b3c04f4e3132' };

  function code(raw: unknown): string | undefined {
    try {
      acceptReport(raw);
    } catch (err) {
      return hasCode(err, 'E_DHCP') || hasCode(err, 'E_MAC') ? err.code : String(err);
    }
    return undefined;
  }

  it('normalises the MAC and names the architecture', () => {
    const l = acceptReport(good);
    expect([l.mac, l.arch, l.uuid, l.active]).toEqual(['52:54:00:d4:01:01', 'efi-bc', '4c4c4544-0042-3510-8052-b3c04f4e3132', true]);
  });

  it('marks a release as no longer active', () => {
    expect(acceptReport({ ...good, event: 'del' }).active).toBe(false);
  });

  it('replaces control characters in a host name', () => {
    expect(acceptReport({ ...good, hostname: 'evil\nboot' }).hostname).toBe('evil?boot');
  });

  it.each([
    [{ ...good, mac: 'nope' }, 'E_MAC'],
    [{ ...good, ip: '10.0.0.300' }, 'E_DHCP'],
    [{ ...good, v: 2 }, 'E_DHCP'],
    [{ ...good, hostname: 42 }, 'E_DHCP'],
    [null, 'E_DHCP'],
  ])('refuses %j with %s', (raw, c) => {
    expect(code(raw)).toBe(c);
  });
});
