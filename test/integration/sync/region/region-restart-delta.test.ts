import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../../../src/config/config.js';
import { createLogger } from '../../../../src/core/log.js';
import { RegionServer } from '../../../../src/region-server/region-server.js';
import { LogSink, type TestAppliance, waitFor } from '../../../support/appliance.js';
import { rawNode, scriptFor, startRack, TOKENS } from '../../../support/region-harness.js';

// A file-backed region started with a state dir goes on from the revision it served before it died, so a rack
// that held that revision (here: one that restarted from its persisted copy while the region was down) catches up
// by delta, not by a full re-list. Without the state dir the same sequence re-lists (410).

const first = rawNode(1, { status: 'deploying', osystem: 'debian', release: 'bookworm' });
const added = rawNode(2, { status: 'deploying', osystem: 'debian', release: 'bookworm' });
const macOf = (n: Record<string, unknown>) => (n.macs as string[])[0]!;

interface Health {
  region: { stale: boolean; state: string; revision: number | null };
}

describe.each([
  { stateDir: true, expectDelta: true },
  { stateDir: false, expectDelta: false },
])('a rack restarted while the region was down, region state dir $stateDir', ({ stateDir, expectDelta }) => {
  let dir: string;
  let rackState: string;
  let region: RegionServer;
  let port = 0;
  const log = new LogSink();
  const make = (p: number) =>
    new RegionServer({
      inventory: join(dir, 'inventory.yaml'),
      tokensFile: join(dir, 'tokens.yaml'),
      host: '127.0.0.1',
      port: p,
      log: createLogger('info', log),
      stateDir: stateDir ? join(dir, 'region-state') : undefined,
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgeboot-region-restart-'));
    rackState = join(dir, 'rack-state');
    writeFileSync(join(dir, 'inventory.yaml'), stringify({ nodes: [first] }));
    writeFileSync(join(dir, 'tokens.yaml'), stringify({ clusters: { 'rack-a': TOKENS.rackA }, admin: TOKENS.admin }));
    region = make(0);
    port = await region.start();
  });
  afterAll(async () => {
    await region?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(expectDelta ? 'catches up by delta' : 're-lists through the snapshot (410)', async () => {
    const url = `http://127.0.0.1:${port}`;
    let rack: TestAppliance = await startRack(url, { region: { state_dir: rackState } });
    try {
      await waitFor(async () => (await scriptFor(rack.base, macOf(first))).includes('bookworm'), 10_000, 'the first sync');
      await rack.stop();
      await region.stop();
      rack = await startRack(url, { region: { state_dir: rackState } });
      const stale = (await (await fetch(`${rack.base}/healthz`)).json()) as Health;
      expect(stale.region.stale).toBe(true);
      const before = stale.region.revision!;
      expect(before).not.toBeNull();

      writeFileSync(join(dir, 'inventory.yaml'), stringify({ nodes: [{ ...first, hostname: 'first-v2' }, added] }));
      region = make(port);
      await region.start();
      const mark = rack.log.entries().length;
      await waitFor(async () => !((await (await fetch(`${rack.base}/healthz`)).json()) as Health).region.stale, 10_000, 'the rack to catch up');
      await waitFor(async () => (await scriptFor(rack.base, macOf(added))).includes('bookworm'), 10_000, 'the added node');
      const after = rack.log.entries().slice(mark);
      const applied = after.filter((e) => e.msg === 'region changes applied');
      const relisted = after.some((e) => e.msg === 'region snapshot loaded');
      if (expectDelta) {
        expect(applied).toHaveLength(1);
        expect(applied[0]!.changed).toBe(2);
        expect(relisted).toBe(false);
        expect(((await (await fetch(`${rack.base}/healthz`)).json()) as Health).region.revision).toBe(before + 1);
      } else {
        expect(after.some((e) => String(e.msg).includes('(410)'))).toBe(true);
        expect(relisted).toBe(true);
      }
    } finally {
      await rack.stop();
    }
  });
});

describe('region --state-dir', () => {
  it('is refused beside --database in one sentence (the database keeps its own history)', () => {
    const r = spawnSync(process.execPath, [join(packageRoot(), 'dist/src/cli/edgeboot.js'), 'region', '--database', 'postgres://db/region', '--state-dir', '/tmp/unused', '--tokens', '/tmp/unused.yaml'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim()).toBe('edgeboot: --state-dir is for the file-backed store; with --database the revision history lives in PostgreSQL');
  });
});
