import { describe, expect, it } from 'vitest';
import { type PlanInput, planBoot } from '../../../src/dhcp-hooks/boot-plan.js';
import { generateDnsmasq } from '../../../src/dhcp-hooks/gen-dnsmasq.js';
import { generateIsc } from '../../../src/dhcp-hooks/gen-isc.js';
import { generateKea, keaFragment } from '../../../src/dhcp-hooks/gen-kea.js';

const BASE: PlanInput = { serverAddress: '10.77.0.1', httpPort: 5248, bios: 'undionly.kpxe', uefi: 'snponly.efi', secureBoot: false };
const HOOK = '/usr/lib/edgeboot/lease-hook.js';

describe('generateDnsmasq', () => {
  const text = generateDnsmasq(planBoot(BASE), { hookPath: HOOK });

  it('sends iPXE clients to the HTTP entry script with next-server set', () => {
    expect(text).toContain('dhcp-boot=tag:edgeboot-ipxe,http://10.77.0.1:5248/boot.ipxe,,10.77.0.1\n');
  });

  it('gives BIOS clients that are not iPXE undionly.kpxe', () => {
    expect(text).toContain('dhcp-boot=tag:!edgeboot-ipxe,tag:edgeboot-arch-0,undionly.kpxe,,10.77.0.1\n');
  });

  it('forces option 60 HTTPClient for HTTP boot clients', () => {
    expect(text).toContain('dhcp-option-force=tag:!edgeboot-ipxe,tag:edgeboot-arch-16,tag:edgeboot-httpclient,option:vendor-class,HTTPClient\n');
  });

  it('wires the lease hook', () => {
    expect(text).toContain(`dhcp-script=${HOOK}\n`);
  });

  it('never names 0.0.0.0', () => {
    expect(text).not.toContain('0.0.0.0');
  });

  it('leaves the hook out when asked', () => {
    expect(generateDnsmasq(planBoot(BASE))).not.toContain('dhcp-script');
  });
});

describe('generateIsc', () => {
  const text = generateIsc(planBoot({ ...BASE, secureBoot: true }), { hookPath: HOOK, hookArgs: ['--socket=/run/x.sock'] });

  it('sets next-server', () => {
    expect(text).toContain('next-server 10.77.0.1;\n');
  });

  it('tests option 93 as 16-bit binary literals', () => {
    expect(text).toContain('} elsif option pxe-system-type = 00:07 or option pxe-system-type = 00:09 {');
  });

  it('serves shim under Secure Boot', () => {
    expect(text).toContain('filename "shimx64.efi";');
  });

  it('passes extra hook arguments before the event', () => {
    expect(text).toContain(`execute("${HOOK}",\n          "--socket=/run/x.sock",\n          "isc",`);
  });
});

describe('keaFragment', () => {
  const f = keaFragment(planBoot(BASE), { hookPath: HOOK, runScriptLib: '/lib/run_script.so' });
  const byName = (n: string) => f.Dhcp4['client-classes'].find((c) => c.name === n);

  it('makes one class per rule', () => {
    expect(f.Dhcp4['client-classes'].map((c) => c.name)).toEqual(['edgeboot-ipxe', 'edgeboot-bios', 'edgeboot-efi-x64', 'edgeboot-http-x64']);
  });

  it('excludes iPXE clients from the arch classes', () => {
    expect(byName('edgeboot-efi-x64')?.test).toBe("not member('edgeboot-ipxe') and (option[93].hex == 0x0007 or option[93].hex == 0x0009)");
  });

  it('always sends option 60 HTTPClient to HTTP boot clients', () => {
    expect(byName('edgeboot-http-x64')?.['option-data']).toEqual([{ name: 'vendor-class-identifier', data: 'HTTPClient', 'always-send': true }]);
  });

  it('wires run_script with the hook, asynchronously', () => {
    expect(f.Dhcp4['hooks-libraries']).toEqual([{ library: '/lib/run_script.so', parameters: { name: HOOK, sync: false } }]);
  });

  it('prints JSON after // comments', () => {
    const text = generateKea(planBoot(BASE));
    expect(JSON.parse(text.replace(/^\/\/.*$/gm, ''))).toEqual(keaFragment(planBoot(BASE)));
  });
});

// Issue 13: d-i (and other installers) read any boot file name containing "://" as a preseed URL, so a
// URL may go only to iPXE (user class / option 175) and to UEFI HTTP Boot firmware (option 60 HTTPClient).
describe('URLs only to clients that understand them', () => {
  const plan = planBoot({ ...BASE, arm64Loader: 'snponly-arm64.efi' });

  it('dnsmasq: every dhcp-boot line with a URL requires the iPXE tag or the HTTPClient tag', () => {
    const lines = generateDnsmasq(plan).split('\n').filter((l) => l.startsWith('dhcp-boot=') && l.includes('://'));
    expect(lines.length).toBe(3);
    for (const l of lines) expect(l.startsWith('dhcp-boot=tag:edgeboot-ipxe,') || l.includes(',tag:edgeboot-httpclient,')).toBe(true);
    expect(generateDnsmasq(plan)).toContain('dhcp-vendorclass=set:edgeboot-httpclient,HTTPClient\n');
  });

  it('ISC: every branch that sets a URL tests for iPXE or for option 60 HTTPClient', () => {
    const text = generateIsc(plan);
    const branches = text.split(/\n(?=if |\} elsif )/).filter((b) => /filename "[^"]*:\/\//.test(b));
    expect(branches.length).toBe(3);
    for (const b of branches) expect(/option user-class = "iPXE"|substring\(option vendor-class-identifier, 0, 10\) = "HTTPClient"/.test(b.split('\n')[0]!)).toBe(true);
  });

  it('Kea: every class with a URL tests for iPXE or for option 60 HTTPClient', () => {
    const classes = keaFragment(plan)['Dhcp4']['client-classes'].filter((c) => c['boot-file-name'].includes('://'));
    expect(classes.length).toBe(3);
    for (const c of classes) expect(/option\[77\]\.hex == 'iPXE'|substring\(option\[60\]\.hex, 0, 10\) == 'HTTPClient'/.test(c.test)).toBe(true);
  });

  it('no rule of any plan gives a plain PXE client a URL', () => {
    for (const p of [plan, planBoot({ ...BASE, secureBoot: true }), planBoot({ ...BASE, uefi: 'ipxe.efi', bios: 'pxelinux.0' })]) {
      for (const r of p.rules) if (r.match.kind === 'arch' && !r.httpClient) expect(r.filename).not.toContain('://');
    }
  });
});
