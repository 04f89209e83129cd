import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import { type TestAppliance, waitFor } from '../../support/appliance.js';
import { rawNode, scriptFor, startRack, startRegion, type TestRegion } from '../../support/region-harness.js';

describe('boot events sent to the region appear on the timeline', () => {
  let region: TestRegion;
  let rack: TestAppliance;
  const node = rawNode(7, { status: 'deploying' });
  const mac = (node.macs as string[])[0]!;

  beforeAll(async () => {
    region = await startRegion({ nodes: [node] });
    rack = await startRack(region.url);
    await waitFor(() => rack.app.store.status().nodes === 1, 5000, 'the first snapshot');
  });
  afterAll(async () => {
    await rack?.stop();
    await region?.cleanup();
  });

  it('records a region-event once the region accepted the script-served milestone', async () => {
    expect(await scriptFor(rack.base, mac)).toContain('install');
    await waitFor(() => rack.app.timeline.events(parseMac(mac)).some((e) => e.stage === 'region-event'), 10_000, 'region-event');
    const sent = rack.app.timeline.events(parseMac(mac)).find((e) => e.stage === 'region-event')!;
    expect(sent.detail).toContain('script-served');
    expect(sent.via).toBe('region');
  });
});
