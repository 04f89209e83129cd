import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../../../src/config/config.js';
import type { TestAppliance } from '../../../support/appliance.js';
import { getFrom, waitFor } from '../../../support/appliance.js';
import { deployingNodes, leakedSecrets, secretsIn, targetFor, tftpPort, writePayloads } from '../../../support/drill.js';
import { createDatabase, type PgCluster, startPgCluster } from '../../../support/pg-cluster.js';
import { freePort } from '../../../support/processes.js';
import { RegionProcess } from '../../../support/region-process.js';
import { startRack, TOKENS } from '../../../support/region-harness.js';
import type { BootResult } from '../../../support/storm-machine.js';
import { machinesFor, runStorm, type StormSummary } from '../../../support/storm-run.js';

// Kill one of two region replicas during a boot storm (issue 17). Two `edgeboot region` processes serve one
// store; the rack's region.url lists both. 220 known machines boot (TFTP loader, scripts, kernel, initrd, answer
// file) while 30 unknown machines ask for their script (enlistment: the rack reports each as a discovery), and
// the replica the rack follows hangs (SIGSTOP, so requests are surely in flight to it) and is killed (SIGKILL)
// mid-storm. Every known machine must boot; every discovery
// must be in the store exactly once; boot-event batches queued or in flight at the kill reach the store exactly
// once (no batch lost, none stored twice after a retry on the other replica).
//
// What the two replicas share depends on the store, and the suite runs over both. YAML (the default): the
// inventory folder, so nodes and discoveries; boot events live in each process's memory, so what the dead replica
// had accepted dies with it and only events made after it hung can be checked. PostgreSQL (`--database`, a private
// cluster): everything, so every event the rack sent must be in the store exactly once.

const CLI = join(packageRoot(), 'dist/src/cli/edgeboot.js');
const KNOWN = 220;
const UNKNOWN = 30;
const all = machinesFor(KNOWN + UNKNOWN, '127.43');
const known = all.slice(0, KNOWN);
// Unknown machines get MACs of their own prefix (machinesFor numbers MACs by index only).
const unknown = all.slice(KNOWN).map((m, i) => ({ ...m, mac: `52:54:02:17:00:${i.toString(16).padStart(2, '0')}` }));
const nodes = deployingNodes(known);

/** A region replica: the shared region process, plus reads of what its store holds. */
class Replica extends RegionProcess {
  async admin<T>(path: string): Promise<T> {
    const res = await fetch(`${this.url}/api/v1/admin/${path}`, { headers: { authorization: `Bearer ${TOKENS.admin}` } });
    expect(res.status, `GET admin/${path} on replica ${this.name}`).toBe(200);
    return (await res.json()) as T;
  }
}

/** How the two replicas share a store: the region arguments and what the store holds for both. */
interface StoreMode {
  name: string;
  /** Boot events are kept in the shared store (not in each process's memory). */
  sharesEvents: boolean;
  /** Prepare the store in `dir` with the known nodes; resolves with the arguments both replicas get. */
  prepare(dir: string): Promise<string[]>;
  cleanup(): void;
}

const yamlStore: StoreMode = {
  name: 'one inventory folder (YAML store)',
  sharesEvents: false,
  async prepare(dir) {
    writeFileSync(join(dir, 'inventory.yaml'), stringify({ nodes, config: { commissioning_osystem: 'ubuntu', commissioning_release: 'noble' } }));
    writeFileSync(join(dir, 'tokens.yaml'), stringify({ clusters: { 'rack-a': TOKENS.rackA }, admin: TOKENS.admin }), { mode: 0o600 });
    return ['--inventory', join(dir, 'inventory.yaml'), '--tokens', join(dir, 'tokens.yaml')];
  },
  cleanup() {},
};

let cluster: PgCluster | undefined;
const pgStore: StoreMode = {
  name: 'one PostgreSQL database',
  sharesEvents: true,
  async prepare(dir) {
    cluster = startPgCluster();
    const url = await createDatabase(cluster, 'edgeboot_storm');
    // Both replicas import the same inventory at start: the second finds every node there already.
    const args = await yamlStore.prepare(dir);
    return ['--database', url, ...args];
  },
  cleanup() {
    cluster?.cleanup();
  },
};

const STORES: StoreMode[] = [yamlStore, pgStore];

interface Health {
  region: { url: string; state: string; consecutiveFailures: number; lastContactSecondsAgo: number | null };
}

/** One sample of a Prometheus text body (0 when absent). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe.each(STORES)('one of two region replicas killed during a boot storm, replicas sharing $name', (store) => {
  let dir: string;
  let replicas: Replica[] = [];
  let rack: TestAppliance;
  let used: Replica;
  let survivor: Replica;
  let summary: StormSummary;
  let results: BootResult[];
  let killedAt = 0;
  let frozenAt = 0;
  let failoverMs = Number.NaN;
  const unknownStatuses: number[] = [];
  const metrics = async () => (await fetch(`${rack.base}/metrics`)).text();
  const health = async () => ((await (await fetch(`${rack.base}/healthz`)).json()) as Health).region;

  beforeAll(async () => {
    expect(existsSync(CLI), `${CLI} is missing: run "npm run build" first`).toBe(true);
    dir = mkdtempSync(join(tmpdir(), 'edgeboot-replica-storm-'));
    const storeArgs = await store.prepare(dir);
    replicas = [new Replica('a', await freePort(), storeArgs), new Replica('b', await freePort(), storeArgs)];
    for (const r of replicas) await r.start();
    rack = await startRack(replicas[0]!.url, {
      region: { url: replicas.map((r) => r.url), wait_seconds: 2 },
      extra: { tftp: { enabled: true, port: 0 }, loader_dirs: [] },
    });
    const p = writePayloads(rack.bootRoot);
    await waitFor(() => rack.app.store.status().nodes === KNOWN, 15_000, 'the rack to load the region snapshot');
    const h = await health();
    used = replicas.find((r) => r.url === h.url)!;
    survivor = replicas.find((r) => r !== used)!;
    expect(used, `the rack follows one of the replicas (${h.url})`).toBeDefined();

    // Unknown machines ask for their script throughout the storm, a few times each (iPXE retries too).
    const enlist = (async () => {
      for (let round = 0; round < 3; round++) {
        for (const m of unknown) {
          const r = await getFrom(`${rack.base}/ipxe/node/${m.mac.replace(/:/g, '-')}`, m.ip);
          unknownStatuses.push(r.status);
          await new Promise((res) => setTimeout(res, 40));
        }
      }
    })();
    // The kill comes once a fifth of the known machines reached their answer file: mid-storm.
    const answers = () => rack.log.text().split('"route":"answers"').length - 1;
    const kill = (async () => {
      await waitFor(() => answers() >= KNOWN / 5, 60_000, 'a fifth of the storm to boot');
      // The replica hangs first, so boot-event batches, discoveries and the follower's poll are surely in flight to
      // it when it dies (a batch flushes every second); then SIGKILL.
      frozenAt = Date.now();
      used.freeze();
      await new Promise((r) => setTimeout(r, 1500));
      killedAt = Date.now();
      await used.kill();
      // Failed over = the rack's follower had a good answer from the survivor after the kill.
      await waitFor(async () => {
        const now = await health();
        return now.url === survivor.url && now.state === 'connected' && now.lastContactSecondsAgo !== null && Date.now() - now.lastContactSecondsAgo * 1000 > killedAt;
      }, 20_000, 'the rack to follow the surviving replica');
    })();
    const observed = await runStorm(known, targetFor(rack.base, tftpPort(rack.app), p, { rateBytesPerSec: 1024 * 1024 }), 6000);
    await Promise.all([enlist, kill]);
    summary = observed.summary;
    results = observed.results;
    // Failed over = the follower's first good answer from the survivor, by the rack's own log clock.
    const good = ['region snapshot loaded', 'region changes applied', 'region reachable again; following its snapshot'];
    const first = rack.log.entries().find((e) => e.part === 'region' && good.includes(String(e.msg)) && Date.parse(String(e.time)) > killedAt);
    failoverMs = first ? Date.parse(String(first.time)) - killedAt : Number.NaN;
    // Everything the rack holds for the region is delivered before the store is counted.
    await waitFor(async () => {
      const m = await metrics();
      return sample(m, 'edgeboot_region_discoveries_pending') === 0 && sample(m, 'edgeboot_region_events_queued') === 0;
    }, 20_000, 'the rack to deliver its discoveries and events');
  }, 120_000);

  afterAll(async () => {
    await rack?.stop();
    for (const r of replicas) await r.kill();
    store.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the kill hit the storm: machines were booting before and after it', () => {
    const finished = results.map((r) => r.doneAt.answer ?? 0);
    expect(finished.filter((t) => t > 0 && t < killedAt).length, 'boots done before the kill').toBeGreaterThan(0);
    expect(finished.filter((t) => t > killedAt).length, 'boots done after the kill').toBeGreaterThan(0);
  });

  it('zero failed boots of known machines', () => {
    const m = summary;
    console.log(
      `replica storm: the follower's first good answer from the survivor ${failoverMs} ms after the SIGKILL (it hung 1.5 s before); known boots ok ${m.completed}/${m.machines}, failed ${m.machines - m.completed}; ` +
        `p50 ${m.p50ms.toFixed(0)} ms p99 ${m.p99ms.toFixed(0)} ms; client retries: http503 ${m.http503}, transport ${m.transport}, tftp busy ${m.tftpBusy}, tftp retransmits ${m.tftpRetransmits}`,
    );
    expect(summary.errors).toEqual([]);
    expect(summary.completed).toBe(KNOWN);
    expect(results.flatMap((r) => r.statuses).filter((s) => s !== 200)).toEqual([]);
    expect(unknownStatuses.filter((s) => s !== 200)).toEqual([]);
    expect(failoverMs).toBeLessThan(10_000);
  });

  it('every discovery (enlistment) is in the store exactly once', async () => {
    const { nodes: stored } = await survivor.admin<{ nodes: Array<{ macs: string[]; status: string }> }>('nodes');
    const counts = unknown.map((m) => stored.filter((n) => n.macs.includes(m.mac)).length);
    const m = await metrics();
    const reported = sample(m, 'edgeboot_region_discoveries_reported_total');
    console.log(`replica storm: discoveries sent ${UNKNOWN} machines, accepted by the region ${reported}, stored ${counts.filter((c) => c > 0).length} (copies: ${counts.reduce((a, b) => a + b, 0)})`);
    expect(counts).toEqual(unknown.map(() => 1));
    for (const mac of unknown.map((u) => u.mac)) expect(stored.find((n) => n.macs.includes(mac))!.status).toBe('new');
  });

  it("the rack's boot events are in the store exactly once", async () => {
    const m = await metrics();
    const delivered = sample(m, 'edgeboot_region_events_delivered_total');
    const dropped = sample(m, 'edgeboot_region_events_dropped_total');
    const { events } = await survivor.admin<{ events: Array<{ cluster: string; event: { id?: string; mac: string | null; kind: string } }> }>('events');
    const ours = events.filter((e) => e.cluster === 'rack-a');
    const ids = new Set(ours.map((e) => e.event.id));
    const requests = m.split('\n').filter((l) => l.startsWith('edgeboot_region_requests_total')).map((l) => l.replace('edgeboot_region_requests_total', ''));
    // Per known machine: each milestone kind of its boot, counted on the survivor.
    const kindsOf = (mac: string) => ours.filter((e) => e.event.mac === mac).map((e) => e.event.kind).sort();
    const knownMacs = new Set(known.map((k) => k.mac));
    const full = [...new Set(ours.filter((e) => e.event.mac !== null && knownMacs.has(e.event.mac)).map((e) => e.event.kind))].sort();
    // Machines whose script was asked for after the replica hung: the rack made all their events after it, so no
    // event of theirs can have been stored by the dead replica; they were queued or in flight, then retried.
    const startedAfterKill = results.filter((r) => (r.doneAt.script ?? 0) - (r.stageMs.script ?? 0) > frozenAt);
    const failedBatches = rack.log.entries().filter((e) => e.part === 'region-events' && String(e.msg).startsWith('boot events cannot be sent') && Date.parse(String(e.time)) > frozenAt);
    const complete = known.filter((k) => JSON.stringify(kindsOf(k.mac)) === JSON.stringify(full)).length;
    console.log(
      `replica storm: boot events sent (accepted by a replica) ${delivered}, dropped ${dropped}, stored in the survivor's store ${ours.length} (distinct ids ${ids.size}); ` +
        `known machines with all ${full.length} milestones (${full.join(' ')}) stored exactly once: ${complete}/${KNOWN} (${startedAfterKill.length} asked for their script after the replica hung); event batches that failed on the dying replica and were retried: ${failedBatches.length > 0 ? 'yes' : 'no'}; rack follower requests ${requests.join(' ')}`,
    );
    const lines = rack.log
      .entries()
      .filter((e) => String(e.part ?? '').startsWith('region') && Date.parse(String(e.time)) >= killedAt - 50 && e.msg !== 'unknown machine reported to the region')
      .map((e) => `+${Date.parse(String(e.time)) - killedAt}ms ${String(e.part)}: ${String(e.msg)}${e.err ? ` (${String(e.err)})` : ''}`);
    console.log(`replica storm: the rack's region lines after the kill:\n  ${lines.slice(0, 12).join('\n  ')}`);
    expect(dropped).toBe(0);
    expect(full.length, 'a boot leaves its milestones in the store').toBeGreaterThanOrEqual(3);
    expect(ids.size, 'no event stored twice').toBe(ours.length);
    // Batches queued or in flight at the kill went to the survivor: every boot that began after it is there whole, once.
    expect(failedBatches.length, 'a batch was in flight to the replica when it died').toBeGreaterThan(0);
    expect(startedAfterKill.length, 'machines asked for their script after the replica hung').toBeGreaterThan(0);
    for (const r of startedAfterKill) expect(kindsOf(r.mac), r.mac).toEqual(full);
    if (store.sharesEvents) {
      expect(ours.length, 'every event the rack sent is in the store').toBe(delivered);
      expect(complete).toBe(KNOWN);
    }
  });

  it('logged no token and no answer-URL signature (rack and both replicas)', () => {
    const secrets = [...secretsIn(nodes), TOKENS.rackA, TOKENS.admin];
    expect(leakedSecrets(rack.log.text(), secrets)).toEqual([]);
    for (const r of replicas) expect(leakedSecrets(r.log, secrets)).toEqual([]);
  });
});
