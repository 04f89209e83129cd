import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAppliance, type TestAppliance, waitFor } from '../../support/appliance.js';

const node = { system_id: 's1', hostname: 'alpha', macs: ['52:54:00:cc:20:01'], arch: 'amd64/generic', status: 'rescue', osystem: 'ubuntu', release: 'noble' };

describe('the rendered-script cache behind /ipxe/node/<mac>', () => {
  let t: TestAppliance;
  beforeAll(async () => {
    t = await startTestAppliance({ nodes: [node] });
  });
  afterAll(async () => {
    await t.stop();
  });

  const script = async () => (await fetch(`${t.base}/ipxe/node/52-54-00-cc-20-01`)).text();
  const gauge = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`${t.base}/metrics`)).text())?.[1]);

  it('answers a repeated request from memory (counted on /metrics)', async () => {
    const first = await script();
    const hits = await gauge('edgeboot_render_cache_hits');
    expect(await script()).toBe(first);
    expect(await gauge('edgeboot_render_cache_hits')).toBe(hits + 1);
    expect(await gauge('edgeboot_render_cache_entries')).toBeGreaterThanOrEqual(1);
  });

  it('shows a template edit once the watcher loaded it, though the snapshot and node did not change', async () => {
    const snapshot = t.app.store.snapshot();
    await script();
    mkdirSync(join(t.overrideDir, 'ipxe'), { recursive: true });
    writeFileSync(join(t.overrideDir, 'ipxe', 'rescue_ubuntu.eta'), '#!ipxe\necho edited rescue for <%= it.hostname %>\n');
    await waitFor(async () => (await script()).includes('edited rescue for alpha'), 5000, 'the edited template');
    expect(t.app.store.snapshot()).toBe(snapshot);
  });

  it('shows a node edit on the first request after the reload that loaded it', async () => {
    await script();
    writeFileSync(t.inventoryPath, JSON.stringify({ nodes: [{ ...node, hostname: 'alpha2' }] }));
    await t.app.reload();
    expect(await script()).toContain('edited rescue for alpha2');
  });
});
