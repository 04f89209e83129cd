import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BootArtefacts, ensureBootArtefacts, stageImage } from './lib/artefacts.js';
import { type Dnsmasq, startDnsmasq } from './lib/dnsmasq.js';
import { type EdgebootOptions, type EdgebootRun, deployingDebianNode, startEdgeboot } from './lib/edgeboot.js';
import { type Lab, createLab } from './lib/lab.js';
import { httpGet } from './lib/netns.js';
import { FIRMWARE } from './lib/paths.js';
import { requireRoot, requireTools } from './lib/process.js';
import { type GuestRun, bootGuest } from './lib/qemu.js';
import { type RegionRun, startRegion } from './lib/region.js';
import { createDatabase, type PgCluster, startPgCluster } from '../support/pg-cluster.js';
import { type GuestReport, describeLogs, parseGuestReport } from './lib/serial-log.js';
import { waitFor } from './lib/wait.js';

// A rack restarted while every region replica is down (issue 17): the rack follows the reference region and
// keeps its last good snapshot on disk; every region process dies (SIGKILL by PID); the rack restarts (SIGTERM,
// same config) and serves the persisted copy, marked stale; a real SeaBIOS + iPXE guest of a known node boots to
// its answer file from it. Then the region comes back with a change: the rack catches up by delta (the changes
// feed, not a full re-list) within seconds and is no longer stale. Two setups: one file-backed region with
// --state-dir (without it, a file-backed region forgets its revision history when it dies and racks re-list),
// and two replicas on one private PostgreSQL (`--database`, the rack's region.url lists both).

/** One way of running the region: how many replicas, on which store, and what a return with a change looks like. */
interface Setup {
  name: string;
  subnet: string;
  /** The fifth MAC octet of this setup's machines. */
  tag: string;
  replicas: number;
  /** With a database, --inventory only imports nodes it does not hold: the change on return is an added node. */
  renameOnReturn: boolean;
  database: boolean;
}

const SETUPS: Setup[] = [
  { name: 'one file-backed region (--state-dir)', subnet: '10.231.176', tag: '17', replicas: 1, renameOnReturn: true, database: false },
  { name: 'two replicas on one PostgreSQL (--database)', subnet: '10.231.177', tag: '27', replicas: 2, renameOnReturn: false, database: true },
];
const BOOT_LIMIT_SECONDS = 150;
const CONVERGE_LIMIT_MS = 10_000;
const TOOLS = ['qemu-system-x86_64', 'dnsmasq', 'busybox', 'cpio', 'curl', 'ip', 'timeout', 'gzip', 'apt-get', 'dpkg-deb'];
const CLUSTER = 'rack-offline';
const CLUSTER_TOKEN = `rack-offline-${randomBytes(12).toString('hex')}`;
const hex = (n: number) => randomBytes(n).toString('hex');

interface Health {
  ready: boolean;
  snapshot: { source: string; nodes?: number };
  region: { state: string; stale: boolean; revision: number | null; persisted: { path: string } | null };
}

const node = (mac: string, hostname: string, tag: string) => deployingDebianNode(mac, hostname, tag, `ts-${tag}-${hex(8)}`);

const inventory = (nodes: unknown[]) => ({
  config: { debian_archive: 'http://deb.debian.org/debian', metadata_url: 'http://region.invalid:5240/MAAS/metadata/' },
  boot_selections: [{ os: 'debian', release: 'trixie', arches: ['amd64'], subarches: ['generic'], labels: ['stable'] }],
  nodes,
});

describe.each(SETUPS)('a rack restarted while every region replica is down, $name', (setup) => {
  const MAC = `52:54:00:e2:${setup.tag}:${hex(1)}`;
  const ADDED_MAC = `52:54:00:e3:${setup.tag}:${hex(1)}`;
  const GUEST_IP = `${setup.subnet}.50`;
  const known = node(MAC, `offline-${hex(2)}`, 'known');
  const added = node(ADDED_MAC, `added-${hex(2)}`, 'added');
  let artefacts: BootArtefacts;
  let lab: Lab | undefined;
  let pg: PgCluster | undefined;
  const regions: RegionRun[] = [];
  let edgeboot: EdgebootRun | undefined;
  let dnsmasq: Dnsmasq | undefined;
  let guest: GuestRun | undefined;
  let report: GuestReport = { ok: false };
  let rackOptions: EdgebootOptions;
  let stateFile = '';
  /** Length of the rack's (appended) log when the region came back: what follows is the catch-up. */
  let logMark = 0;

  const health = async () => {
    const r = await httpGet(lab!.ns, `${edgeboot!.baseUrl}/healthz`);
    return { status: r.status, body: JSON.parse(r.body) as Health };
  };
  const metrics = async () => (await httpGet(lab!.ns, `${edgeboot!.baseUrl}/metrics`)).body;
  const logs = async (title: string) =>
    describeLogs(title, {
      'serial console': guest?.serial ?? '',
      'edgeboot log': (await edgeboot?.log()) ?? '',
      'region log': (await Promise.all(regions.map((r) => r.log()))).join('\n'),
      'dnsmasq log': (await dnsmasq?.log()) ?? '',
    });
  const failWith = async (err: unknown) => {
    lab?.keep();
    throw new Error(await logs(err instanceof Error ? err.message : String(err)));
  };

  beforeAll(async () => {
    requireRoot();
    requireTools([...TOOLS, FIRMWARE.biosRom]);
    artefacts = await ensureBootArtefacts((line) => console.log(line));
    lab = await createLab({ subnet: setup.subnet });
    const bootRoot = join(lab.dir, 'boot');
    await stageImage(bootRoot, { os: 'debian', release: 'trixie' }, artefacts);
    // A private cluster on a unix socket in /tmp: reachable from inside the namespace (it is a file).
    if (setup.database) pg = startPgCluster();
    const database = pg ? await createDatabase(pg, 'edgeboot_offline') : undefined;
    for (let i = 0; i < setup.replicas; i++) {
      regions.push(
        await startRegion({
          ns: lab.ns,
          dir: join(lab.dir, `region-${i}`),
          port: 5240 + i,
          inventory: inventory([known]),
          clusters: { [CLUSTER]: CLUSTER_TOKEN },
          ...(database ? { database } : { stateDir: join(lab.dir, `region-state-${i}`) }),
        }),
      );
    }
    const tokenFile = join(lab.dir, 'rack.token');
    await writeFile(tokenFile, CLUSTER_TOKEN, { mode: 0o600 });
    const stateDir = join(lab.dir, 'state');
    stateFile = join(stateDir, `region-snapshot-${CLUSTER}.json`);
    rackOptions = {
      ns: lab.ns,
      dir: lab.dir,
      bootRoot,
      inventory: { nodes: [] },
      extraConfig: {
        region: { url: regions.map((r) => r.url), cluster_id: CLUSTER, token_file: tokenFile, wait_seconds: 5, backoff_max_seconds: 1, state_dir: stateDir },
        images: { sync: false },
        dhcp: { lease_intake: false },
      },
    };
    edgeboot = await startEdgeboot(rackOptions);
  }, 600_000);

  afterAll(async () => {
    const problems = (await lab?.teardown()) ?? [];
    for (const p of problems) console.log(`teardown: ${p}`);
    pg?.cleanup();
  }, 60_000);

  it('follows the region and keeps its snapshot on disk (mode 0600)', async () => {
    try {
      await waitFor('the first region sync', 30_000, async () => (await health()).body.region.state === 'connected');
      await waitFor('the persisted snapshot', 15_000, async () => (await readFile(stateFile, 'utf8').catch(() => '')).includes(MAC));
      expect((await stat(stateFile)).mode & 0o777).toBe(0o600);
      const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { revision?: number };
      expect(typeof saved.revision, 'the region has a changes feed: the copy carries its revision').toBe('number');
    } catch (err) {
      await failWith(err);
    }
  }, 60_000);

  it('restarted while the region is dead, serves the persisted snapshot and says stale', async () => {
    try {
      for (const r of regions) await r.kill();
      await edgeboot!.process.stop(10_000);
      edgeboot = await startEdgeboot(rackOptions);
      const h = await health();
      expect(h.status).toBe(200);
      expect(h.body.ready).toBe(true);
      expect(h.body.region.stale).toBe(true);
      expect(h.body.snapshot.source).toBe(`persisted:${stateFile}`);
      expect(h.body.region.state).not.toBe('connected');
      expect(await metrics()).toMatch(/^edgeboot_snapshot_stale 1$/m);
      expect(await edgeboot!.log()).toContain('serving the persisted snapshot (stale)');
    } catch (err) {
      await failWith(err);
    }
  }, 90_000);

  it('a real guest of a known node boots to its answer file from the persisted snapshot', async () => {
    try {
      dnsmasq = await startDnsmasq({ ns: lab!.ns, dir: lab!.dir, ipxeBootUrl: edgeboot!.bootIpxeUrl, hosts: [{ mac: MAC, ip: GUEST_IP }] });
      guest = await bootGuest({ ns: lab!.ns, dir: lab!.dir, firmware: 'bios', mac: MAC, timeoutSeconds: BOOT_LIMIT_SECONDS });
      report = parseGuestReport(guest.serial);
      console.log(`rack-offline (${setup.name}): SeaBIOS guest boot to power-off ${guest.seconds.toFixed(1)} s from the persisted snapshot, result "${report.result ?? 'none'}"`);
      expect(report.ok, 'the guest printed its answer file').toBe(true);
      expect(report.url).toMatch(/\/answers\/.*\/preseed$/);
      expect(report.answer).toContain(known.hostname);
      // The node's own script was served (not the enlistment path), while the region was still away.
      const lines = (await edgeboot!.log()).split('\n').filter((l) => l.includes('"route":"ipxe-node"') && l.includes(`"mac":"${MAC}"`));
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(lines.at(-1)!).purpose).toBe('install');
      expect((await health()).body.region.stale).toBe(true);
    } catch (err) {
      await failWith(err);
    }
  }, (BOOT_LIMIT_SECONDS + 60) * 1000);

  it('when the region returns with changes, the rack converges by delta within seconds', async () => {
    try {
      const before = (await health()).body.region.revision;
      expect(before, 'the persisted copy brought its revision back').not.toBeNull();
      // The first replica comes back (the others stay dead) with a change made while it was away.
      const back = regions[0]!;
      await back.writeInventory(inventory([setup.renameOnReturn ? { ...known, hostname: `${known.hostname}-v2` } : known, added]));
      logMark = (await edgeboot!.log()).length;
      const started = Date.now();
      await back.start();
      const regionUp = Date.now() - started;
      await waitFor('the rack to catch up', CONVERGE_LIMIT_MS, async () => {
        const h = (await health()).body;
        return !h.region.stale && h.region.state === 'connected' && (h.region.revision ?? 0) > (before ?? 0);
      }, 100);
      const converged = Date.now() - started;
      console.log(`rack-offline (${setup.name}): region healthy ${regionUp} ms after its start; rack converged ${converged} ms after the start (${converged - regionUp} ms after the region answered)`);
      const after = (await edgeboot!.log()).slice(logMark).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg?: string; changed?: number; removed?: number });
      const applied = after.filter((e) => e.msg === 'region changes applied');
      expect(applied.length, 'a delta from the changes feed was applied').toBeGreaterThanOrEqual(1);
      expect(applied.reduce((n, e) => n + (e.changed ?? 0), 0)).toBe(setup.renameOnReturn ? 2 : 1);
      expect(after.some((e) => e.msg === 'region snapshot loaded'), 'no full re-list').toBe(false);
      expect(await metrics()).toMatch(/^edgeboot_region_requests_total\{result="delta"\} [1-9]/m);
      expect(await metrics()).toMatch(/^edgeboot_snapshot_stale 0$/m);
      const h = (await health()).body;
      expect(h.snapshot.source).toMatch(/^region:/);
      // The added node is known now: its own script, not the enlistment path.
      const script = await httpGet(lab!.ns, `${edgeboot!.baseUrl}/ipxe/node/${ADDED_MAC.replace(/:/g, '-')}`);
      expect(script.body).toContain('/answers/');
      // The catch-up is persisted too.
      await waitFor('the persisted copy to hold the added node', 10_000, async () => (await readFile(stateFile, 'utf8')).includes(ADDED_MAC));
    } catch (err) {
      await failWith(err);
    }
  }, 60_000);
});
