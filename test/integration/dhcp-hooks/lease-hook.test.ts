import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type MacAddress, parseMac } from '../../../src/core/mac.js';
import { DEFAULT_CLUSTER_CONFIG, type Node } from '../../../src/core/node.js';
import { LeaseIntake } from '../../../src/dhcp-hooks/lease-intake.js';
import { DiscoveryLog } from '../../../src/observe/discoveries.js';
import { LeaseBook } from '../../../src/observe/lease-book.js';
import { NodeStore } from '../../../src/sync/nodes/node-store.js';

// The built hook executable, run exactly as dnsmasq, ISC dhcpd and Kea run it, against a real intake.
const HOOK = resolve(import.meta.dirname, '../../../dist/src/dhcp-hooks/lease-hook.js');
const SOURCE = resolve(import.meta.dirname, '../../../src/dhcp-hooks/lease-hook.ts');
const KNOWN = parseMac('52:54:00:d4:00:01');

interface HookRun {
  code: number | null;
  stderr: string;
  ms: number;
}

function runHook(args: string[], env: Record<string, string>): Promise<HookRun> {
  const started = performance.now();
  return new Promise((done) => {
    // Kea clears the environment; dnsmasq and dhcpd pass theirs. Start from nothing but PATH either way.
    const child = spawn(HOOK, args, { env: { PATH: '/usr/bin:/bin', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('close', (code) => done({ code, stderr, ms: performance.now() - started }));
  });
}

let dir: string;
let socketPath: string;
let secretFile: string;
let leases: LeaseBook;
let discoveries: DiscoveryLog;
let intake: LeaseIntake;
let env: Record<string, string>;

function node(mac: MacAddress): Node {
  return { systemId: 'n1', hostname: 'node01', macs: [mac], arch: 'amd64', subarch: 'generic', status: 'deploying', osystem: 'ubuntu', release: 'noble', kernelOpts: '' };
}

beforeAll(async () => {
  if (!existsSync(HOOK) || statSync(HOOK).mtimeMs < statSync(SOURCE).mtimeMs) {
    throw new Error(`${HOOK} is missing or older than its source: run \`npm run build\` first.`);
  }
  dir = mkdtempSync(join(tmpdir(), 'eb-lease-'));
  socketPath = join(dir, 'run', 'lease.sock');
  secretFile = join(dir, 'lib', 'lease-hook.secret');
  env = { EDGEBOOT_LEASE_SOCKET: socketPath, EDGEBOOT_LEASE_SECRET_FILE: secretFile };
});

beforeEach(async () => {
  await intake?.stop(100);
  leases = new LeaseBook();
  discoveries = new DiscoveryLog();
  const store = new NodeStore();
  store.swap({ version: 't', nodes: [node(KNOWN)], config: DEFAULT_CLUSTER_CONFIG, bootSelections: [] }, 'test');
  intake = new LeaseIntake({ socketPath, secretFile, leases, discoveries, nodes: store, log: pino({ level: 'silent' }) });
  await intake.start();
});

afterAll(async () => {
  await intake?.stop(100);
  rmSync(dir, { recursive: true, force: true });
});

describe('the lease hook as dnsmasq --dhcp-script runs it', () => {
  const dnsmasqEnv = () => ({
    ...env,
    DNSMASQ_TAGS: 'edgeboot-ipxe edgeboot-arch-7 br0',
    DNSMASQ_VENDOR_CLASS: 'PXEClient:Arch:00007:UNDI:003010',
    DNSMASQ_USER_CLASS0: 'iPXE',
  });

  it('exits 0', async () => {
    expect((await runHook(['add', '52:54:00:d4:00:01', '10.77.0.50', 'node01'], dnsmasqEnv())).code).toBe(0);
  });

  it('records MAC, IP, arch and classes on the lease book', async () => {
    await runHook(['add', '52:54:00:d4:00:01', '10.77.0.50', 'node01'], dnsmasqEnv());
    const [l] = leases.leases(KNOWN);
    expect({ ip: l?.ip, arch: l?.arch, vendor: l?.vendorClass, user: l?.userClass, host: l?.hostname }).toEqual({
      ip: '10.77.0.50',
      arch: 'efi-bc',
      vendor: 'PXEClient:Arch:00007:UNDI:003010',
      user: 'iPXE',
      host: 'node01',
    });
  });

  it('records the first-seen time once and updates last-seen', async () => {
    await runHook(['add', '52:54:00:d4:00:01', '10.77.0.50'], dnsmasqEnv());
    const first = leases.leases(KNOWN)[0]!.firstSeen;
    await new Promise((r) => setTimeout(r, 20));
    await runHook(['old', '52:54:00:d4:00:01', '10.77.0.50'], dnsmasqEnv());
    const l = leases.leases(KNOWN)[0]!;
    expect([l.firstSeen === first, l.lastSeen > first]).toEqual([true, true]);
  });

  it('keeps the recorded arch when a later event (the installed OS renewing) carries none', async () => {
    await runHook(['add', '52:54:00:d4:00:01', '10.77.0.50'], dnsmasqEnv());
    await runHook(['old', '52:54:00:d4:00:01', '10.77.0.50'], env);
    expect(leases.leases(KNOWN)[0]?.arch).toBe('efi-bc');
  });

  it('lets BootService accept answer URLs from the leased IP (ipsFor)', async () => {
    await runHook(['add', '52:54:00:d4:00:01', '10.77.0.60'], dnsmasqEnv());
    expect(leases.ipsFor(KNOWN)).toEqual(['10.77.0.60']);
  });

  it('reports an unknown MAC as a discovery', async () => {
    await runHook(['add', '52:54:00:d4:00:99', '10.77.0.99'], dnsmasqEnv());
    expect(discoveries.list().map((d) => [d.mac, d.ip, d.arch, d.via])).toEqual([['52:54:00:d4:00:99', '10.77.0.99', 'efi-bc', 'dhcp']]);
  });

  it('does not report a known MAC as a discovery', async () => {
    await runHook(['add', '52:54:00:d4:00:01', '10.77.0.50'], dnsmasqEnv());
    expect(discoveries.list()).toEqual([]);
  });

  it('does not record a released lease', async () => {
    await runHook(['del', '52:54:00:d4:00:01', '10.77.0.50'], dnsmasqEnv());
    expect(leases.leases(KNOWN)).toEqual([]);
  });
});

describe('the lease hook as ISC dhcpd execute() runs it', () => {
  const args = (mac: string) => [
    `--socket=${socketPath}`,
    `--secret-file=${secretFile}`,
    'isc',
    'commit',
    mac,
    '10.77.0.51',
    'node02',
    '0',
    'PXEClient:Arch:00000:UNDI:002001',
    'iPXE',
    '0:44:45:4c:4c:42:0:10:35:80:52:b3:c0:4f:4e:31:32',
  ];

  it('records the lease with the BIOS arch, passing paths as arguments', async () => {
    const r = await runHook(args('52:54:0:d4:0:1'), {});
    expect([r.code, leases.leases(KNOWN)[0]?.arch, leases.leases(KNOWN)[0]?.ip]).toEqual([0, 'bios', '10.77.0.51']);
  });

  it('records the client UUID from option 97', async () => {
    await runHook(args('52:54:0:d4:0:1'), {});
    expect(leases.leases(KNOWN)[0]?.uuid).toBe('4c4c4544-0042-3510-8052-b3c04f4e3132');
  });
});

describe('the lease hook as Kea run_script runs it', () => {
  it('records leases4_committed from LEASES4_AT0_*', async () => {
    const r = await runHook(['leases4_committed'], {
      ...env,
      LEASES4_SIZE: '1',
      LEASES4_AT0_ADDRESS: '10.77.0.52',
      LEASES4_AT0_HWADDR: '52:54:00:d4:00:01',
      LEASES4_AT0_HOSTNAME: 'node03',
      QUERY4_TYPE: 'DHCPREQUEST',
    });
    expect([r.code, leases.ipsFor(KNOWN)]).toEqual([0, ['10.77.0.52']]);
  });
});

describe('the lease hook never holds up or breaks the DHCP server', () => {
  it('exits 0 with a stderr line when edgeboot is down', async () => {
    await intake.stop(100);
    const r = await runHook(['add', '52:54:00:d4:00:01', '10.77.0.50'], env);
    expect([r.code, /not reachable/.test(r.stderr)]).toEqual([0, true]);
  });

  it('exits within about a second when edgeboot is down', async () => {
    await intake.stop(100);
    expect((await runHook(['add', '52:54:00:d4:00:01', '10.77.0.50'], env)).ms).toBeLessThan(1_500);
  });

  it('gives up on an edgeboot that accepts but never answers, within about a second', async () => {
    await intake.stop(100);
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(socketPath, r));
    try {
      const r = await runHook(['add', '52:54:00:d4:00:01', '10.77.0.50'], env);
      expect([r.code, r.ms < 1_500, /did not answer/.test(r.stderr)]).toEqual([0, true, true]);
    } finally {
      silent.close();
    }
  });

  it('exits 0 and records nothing with a wrong secret', async () => {
    const wrong = join(dir, 'wrong.secret');
    writeFileSync(wrong, 'x'.repeat(64));
    const r = await runHook(['add', '52:54:00:d4:00:01', '10.77.0.50'], { ...env, EDGEBOOT_LEASE_SECRET_FILE: wrong });
    expect([r.code, /refused/.test(r.stderr), leases.leases(KNOWN)]).toEqual([0, true, []]);
  });

  it('exits 0 when the secret file cannot be read', async () => {
    const r = await runHook(['add', '52:54:00:d4:00:01', '10.77.0.50'], { ...env, EDGEBOOT_LEASE_SECRET_FILE: join(dir, 'missing') });
    expect([r.code, /shared secret/.test(r.stderr)]).toEqual([0, true]);
  });

  it('exits 0 silently for calls that are not lease events', async () => {
    expect(await runHook(['init'], env)).toMatchObject({ code: 0, stderr: '' });
  });

  it('never prints the secret', async () => {
    await intake.stop(100);
    const r = await runHook(['add', '52:54:00:d4:00:01', '10.77.0.50'], env);
    const { readFileSync } = await import('node:fs');
    expect(r.stderr).not.toContain(readFileSync(secretFile, 'utf8').trim());
  });
});

describe('the intake socket', () => {
  it('is a socket any local user may open (the secret is the check)', () => {
    expect(statSync(socketPath).mode & 0o777).toBe(0o666);
  });

  it('keeps the secret file away from others (mode 0640)', () => {
    expect(statSync(secretFile).mode & 0o777).toBe(0o640);
  });

  it('refuses a secret file that others can read', async () => {
    await intake.stop(100);
    chmodSync(secretFile, 0o644);
    try {
      const strict = new LeaseIntake({ socketPath, secretFile, leases, discoveries, nodes: new NodeStore(), log: pino({ level: 'silent' }) });
      await expect(strict.start()).rejects.toMatchObject({ code: 'E_CONFIG' });
    } finally {
      chmodSync(secretFile, 0o640);
    }
  });
});
