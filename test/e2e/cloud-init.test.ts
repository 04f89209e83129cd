import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestAppliance } from '../support/appliance.js';
import { rawNode, scriptFor, startRack, startRegion, type TestRegion } from '../support/region-harness.js';
import { ensureCloudInitRoot } from './lib/cloud-init-root.js';
import { requireRoot, requireTools, run } from './lib/process.js';
import { waitFor } from './lib/wait.js';

// Debian's real cloud-init (trixie) consumes edgeboot's NoCloud seed: a debootstrapped root, booted
// with systemd-nspawn on the host's loopback, with its NoCloud datasource pointed at the rack's
// signed answer URL. The node is commissioning: its user-data sets the hostname, reports every
// cloud-init stage to the region with the node's own token, and powers the machine off.

const LIMIT_SECONDS = 420;
const HOST = `ci-node-${randomBytes(2).toString('hex')}`;
const MAC = `52:54:00:c1:00:${randomBytes(1).toString('hex')}`;
const SYSTEM_ID = `ci${randomBytes(3).toString('hex')}`;
const TOKEN = { consumer_key: `ck-${SYSTEM_ID}`, token_key: `tk-${SYSTEM_ID}`, token_secret: `ts-${SYSTEM_ID}-secret` };

describe("real cloud-init consumes edgeboot's NoCloud seed and reports to the region", () => {
  let region: TestRegion | undefined;
  let rack: TestAppliance | undefined;
  let work = '';
  let copy = '';
  let seed = '';
  let console_ = '';
  let exitCode: number | null = null;
  let seconds = 0;

  const file = (p: string) => readFile(join(copy, p), 'utf8').catch(() => '');

  beforeAll(async () => {
    requireRoot();
    requireTools(['systemd-nspawn', 'debootstrap', 'cp', 'timeout']);
    const root = await ensureCloudInitRoot((l) => console.log(l));
    region = await startRegion({
      config: { metadata_url: 'http://placeholder/', commissioning_osystem: 'debian', commissioning_release: 'trixie' },
      nodes: [rawNode(1, { system_id: SYSTEM_ID, hostname: HOST, macs: [MAC], status: 'commissioning', token: TOKEN })],
    });
    // The metadata URL names the region's port, known only once it listens.
    writeFileSync(region.inventoryPath, readFileSync(region.inventoryPath, 'utf8').replace('http://placeholder/', `${region.url}/MAAS/metadata/`));
    await region.server.reload();
    rack = await startRack(region.url, { region: { wait_seconds: 2 } });

    // What iPXE would be told: the commissioning script names the NoCloud seed (bound to 127.0.0.1).
    await waitFor('the commissioning script', 10_000, async () => (await scriptFor(rack!.base, MAC)).includes('ds=nocloud-net'));
    seed = /ds=nocloud-net;s=(\S+)/.exec(await scriptFor(rack.base, MAC))![1]!;

    work = await mkdtemp(join(tmpdir(), 'edgeboot-cloud-init-'));
    copy = join(work, 'root');
    // Every run boots its own copy: the cached root stays pristine.
    await run('cp', ['-a', '--reflink=auto', root, copy], { timeoutMs: 300_000 });
    const cfg = join(work, '99-edgeboot.cfg');
    await writeFile(
      cfg,
      [
        '# The rack is the NoCloud seed (on a machine, the kernel command line ds=nocloud-net;s=… says the same).',
        'datasource_list: [ NoCloud, None ]',
        'datasource:',
        '  NoCloud:',
        `    seedfrom: ${JSON.stringify(seed)}`,
        '# The container shares the host network: cloud-init must not configure it.',
        'network: {config: disabled}',
        '',
      ].join('\n'),
    );
    const started = Date.now();
    const r = await run(
      'timeout',
      [
        '--kill-after=10',
        String(LIMIT_SECONDS),
        'systemd-nspawn',
        '--quiet',
        // No machined and no scope of its own: the host may have no system bus (CI containers).
        '--register=no',
        '--keep-unit',
        `--machine=ebci${randomBytes(3).toString('hex')}`,
        '--console=pipe',
        '--resolv-conf=off',
        '-D',
        copy,
        `--bind-ro=${cfg}:/etc/cloud/cloud.cfg.d/99-edgeboot.cfg`,
        '--boot',
      ],
      { allowFailure: true, timeoutMs: (LIMIT_SECONDS + 30) * 1000, env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' } },
    );
    seconds = (Date.now() - started) / 1000;
    exitCode = r.code;
    console_ = r.stdout + r.stderr;
    console.log(`cloud-init e2e: container ran ${seconds.toFixed(1)} s, exit ${exitCode}`);
  }, (LIMIT_SECONDS + 2000) * 1000);

  afterAll(async () => {
    await rack?.stop();
    await region?.cleanup();
    if (work && process.env.EDGEBOOT_E2E_KEEP !== '1') await rm(work, { recursive: true, force: true });
  }, 120_000);

  const evidence = async () =>
    `console (tail):\n${console_.split('\n').slice(-40).join('\n')}\ncloud-init.log (warnings):\n${(await file('var/log/cloud-init.log'))
      .split('\n')
      .filter((l) => /\[(WARNING|ERROR)\]/.test(l))
      .slice(0, 30)
      .join('\n')}\nregion requests:\n${region!.log
      .text()
      .split('\n')
      .filter((l) => l.includes('metadata'))
      .slice(0, 20)
      .join('\n')}`;

  it('cloud-init ran every stage and powered the container off as the user-data says', async () => {
    expect(exitCode, await evidence()).toBe(0);
    const result = JSON.parse((await file('var/lib/cloud/data/result.json')) || '{}') as { v1?: { datasource?: string; errors?: string[] } };
    expect(result.v1?.datasource, await evidence()).toMatch(/NoCloud/);
    expect(result.v1?.datasource).toContain(seed);
    expect(result.v1?.errors).toEqual([]);
    expect(await file('var/log/cloud-init-output.log')).toContain(`edgeboot: commission of ${HOST} booted`);
  });

  it("applies the node's hostname from edgeboot's meta-data/user-data", async () => {
    expect((await file('etc/hostname')).trim(), await evidence()).toBe(HOST);
    expect(await file('var/log/cloud-init.log')).toMatch(new RegExp(`(Setting|set) (the )?hostname.*${HOST}|hostname.*${HOST}`, 'i'));
  });

  it("the rendered reporting reaches the region, signed with the node's own token", async () => {
    const reports = region!.server.reports.filter((r) => r.system_id === SYSTEM_ID);
    expect(reports.length, await evidence()).toBeGreaterThan(0);
    const names = reports.map((r) => (r.kind === 'report' ? `${r.origin}:${r.name}:${r.eventType}:${r.result ?? ''}` : r.kind));
    console.log(`cloud-init e2e: ${reports.length} reports reached the region, e.g. ${names.slice(0, 4).join(', ')} … ${names.at(-1)}`);
    expect(names).toContain('cloudinit:modules-final:finish:SUCCESS');
    expect(JSON.stringify(region!.server.reports)).not.toContain(TOKEN.token_secret);
    expect(region!.log.text()).not.toContain(TOKEN.token_secret);
  });
});
