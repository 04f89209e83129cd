import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PlanInput, planBoot } from '../../../src/dhcp-hooks/boot-plan.js';
import { generateDnsmasq } from '../../../src/dhcp-hooks/gen-dnsmasq.js';
import { generateIsc } from '../../../src/dhcp-hooks/gen-isc.js';
import { KEA_RUN_SCRIPT_LIB, generateKea } from '../../../src/dhcp-hooks/gen-kea.js';

// Each generated snippet goes through the DHCP server's own configuration checker.

const CHECKERS = ['dnsmasq', 'dhcpd', 'kea-dhcp4'];
const HOOK = '/usr/lib/edgeboot/lease-hook.js';
const BASE: PlanInput = { serverAddress: '10.77.0.1', httpPort: 5248, bios: 'undionly.kpxe', uefi: 'snponly.efi', secureBoot: false };

/** Each variant and a line its snippets must contain (dnsmasq spelling), so the check covers what it claims. */
const VARIANTS: Array<{ name: string; input: PlanInput; expect: string }> = [
  { name: 'BIOS (undionly.kpxe)', input: BASE, expect: 'tag:edgeboot-arch-0,undionly.kpxe,' },
  { name: 'BIOS (pxelinux.0)', input: { ...BASE, bios: 'pxelinux.0' }, expect: 'tag:edgeboot-arch-0,pxelinux.0,' },
  { name: 'UEFI (snponly.efi)', input: BASE, expect: 'tag:edgeboot-arch-9,snponly.efi,' },
  { name: 'UEFI (ipxe.efi) with arm64', input: { ...BASE, uefi: 'ipxe.efi', arm64Loader: 'ipxe-arm64.efi' }, expect: 'tag:edgeboot-arch-11,ipxe-arm64.efi,' },
  { name: 'UEFI HTTP boot', input: BASE, expect: 'tag:edgeboot-arch-16,tag:edgeboot-httpclient,http://10.77.0.1:5248/snponly.efi,' },
  { name: 'Secure Boot (shim → GRUB)', input: { ...BASE, secureBoot: true, arm64Loader: 'x' }, expect: 'tag:edgeboot-arch-7,shimx64.efi,' },
];

let dir: string;

function check(cmd: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  const missing = CHECKERS.filter((c) => spawnSync('sh', ['-c', `command -v ${c} || test -x /usr/sbin/${c}`]).status !== 0);
  if (missing.length) throw new Error(`missing checkers: ${missing.join(', ')} (apt-get install dnsmasq-base isc-dhcp-server kea-dhcp4-server)`);
  dir = mkdtempSync(join(tmpdir(), 'eb-dhcpcfg-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe.each(VARIANTS)('$name', (v) => {
  const plan = planBoot(v.input);
  const file = (ext: string) => join(dir, `${v.name.replace(/\W+/g, '-')}.${ext}`);

  it('contains the rule it is named for', () => {
    expect(generateDnsmasq(plan)).toContain(v.expect);
  });

  it('passes dnsmasq --test', () => {
    writeFileSync(file('dnsmasq'), generateDnsmasq(plan, { hookPath: HOOK }));
    const r = check('dnsmasq', ['--test', `--conf-file=${file('dnsmasq')}`]);
    expect(r, r.output).toMatchObject({ status: 0 });
  });

  it('passes dhcpd -t -cf', () => {
    writeFileSync(file('isc'), generateIsc(plan, { hookPath: HOOK, hookArgs: ['--socket=/run/edgeboot/lease.sock'] }));
    const r = check('dhcpd', ['-t', '-cf', file('isc')]);
    expect(r, r.output).toMatchObject({ status: 0 });
  });

  it('passes kea-dhcp4 -t, loading the run_script hook', () => {
    writeFileSync(file('kea.json'), generateKea(plan, { hookPath: HOOK, runScriptLib: KEA_RUN_SCRIPT_LIB }));
    const r = check('kea-dhcp4', ['-t', file('kea.json')]);
    expect(r, r.output).toMatchObject({ status: 0 });
  });
});

describe('edgeboot dhcp-config (the CLI)', () => {
  const CLI = resolve(import.meta.dirname, '../../../dist/src/cli/edgeboot.js');

  function cli(server: string, extra: Record<string, unknown> = {}) {
    const cfg = join(dir, `cli-${server}.yaml`);
    writeFileSync(cfg, stringify({ inventory: join(dir, 'inv.yaml'), boot_root: dir, answers: { key_file: join(dir, 'key') }, ...extra }));
    return spawnSync('node', [CLI, 'dhcp-config', '--server', server, '--server-address', '10.77.0.1', '--config', cfg], { encoding: 'utf8' });
  }

  it.each([
    ['dnsmasq', (f: string) => check('dnsmasq', ['--test', `--conf-file=${f}`])],
    ['isc', (f: string) => check('dhcpd', ['-t', '-cf', f])],
    ['kea', (f: string) => check('kea-dhcp4', ['-t', f])],
  ])('prints a %s snippet its checker accepts', (server, checker) => {
    const r = cli(server, { dhcp: { secure_boot: true } });
    const f = join(dir, `cli-out-${server}.conf`);
    writeFileSync(f, r.stdout);
    const c = checker(f);
    expect([r.status, c.status], `${r.stderr}\n${c.output}`).toEqual([0, 0]);
  });

  it('passes non-default socket and secret paths to the ISC hook as arguments', () => {
    const r = cli('isc', { dhcp: { lease_socket: '/run/eb-test/lease.sock' } });
    expect(r.stdout).toContain('"--socket=/run/eb-test/lease.sock"');
  });

  it('refuses --server-address 0.0.0.0 with exit 1 and a sentence', () => {
    const cfg = join(dir, 'cli-dnsmasq.yaml');
    const r = spawnSync('node', [CLI, 'dhcp-config', '--server', 'dnsmasq', '--server-address', '0.0.0.0', '--config', cfg], { encoding: 'utf8' });
    expect([r.status, /0\.0\.0\.0 would send clients nowhere/.test(r.stderr)]).toEqual([1, true]);
  });

  it('refuses an unknown --server', () => {
    const cfg = join(dir, 'cli-dnsmasq.yaml');
    const r = spawnSync('node', [CLI, 'dhcp-config', '--server', 'windows', '--config', cfg], { encoding: 'utf8' });
    expect(r.status).toBe(1);
  });
});
