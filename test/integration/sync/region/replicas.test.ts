import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../support/appliance.js';
import { rawNode, scriptFor, startRack, startRegion, type TestRegion } from '../../../support/region-harness.js';

// A rack whose region.url lists two replicas: it follows whichever answers, moves to the other when the one
// in use dies, and its reports (a discovery) reach the replica that is alive.

const first = rawNode(1, { status: 'deploying', osystem: 'debian', release: 'bookworm' });
const second = rawNode(2, { status: 'deploying', osystem: 'debian', release: 'bookworm' });
const macOf = (n: Record<string, unknown>) => (n.macs as string[])[0]!;
let a: TestRegion;
let b: TestRegion;

interface Health {
  region: { url: string; replicas: string[]; state: string };
}
const health = async (base: string) => ((await (await fetch(`${base}/healthz`)).json()) as Health).region;

function writeInventory(r: TestRegion, nodes: unknown[]): void {
  writeFileSync(r.inventoryPath, stringify({ nodes }));
}

beforeAll(async () => {
  a = await startRegion({ nodes: [first] });
  b = await startRegion({ nodes: [first] });
});

afterAll(async () => {
  await a?.cleanup();
  await b?.cleanup();
});

describe('region replicas', () => {
  it('config accepts a list of one scheme and refuses a mixed one, in one sentence', async () => {
    const { parseConfig } = await import('../../../../src/config/config.js');
    const base = { boot_root: '.', region: { cluster_id: 'rack-a', token_file: 't' } };
    const ok = parseConfig({ ...base, region: { ...base.region, url: ['http://r1:5240', 'http://r2:5240'] } }, '/tmp/x.yaml');
    expect(ok.region?.url).toEqual(['http://r1:5240', 'http://r2:5240']);
    expect(() => parseConfig({ ...base, region: { ...base.region, url: ['http://r1:5240', 'https://r2:5240'] } }, '/tmp/x.yaml')).toThrow(
      /region\.url: must list URLs of one scheme/,
    );
  });

  it('starts on the second replica when the first is down, and moves back when the second dies', async () => {
    await a.kill();
    const rack = await startRack(a.url, { region: { url: [a.url, b.url] } });
    try {
      await waitFor(async () => (await scriptFor(rack.base, macOf(first))).includes('bookworm'), 10_000, 'a snapshot from replica b');
      expect((await health(rack.base)).url).toBe(b.url);
      expect((await health(rack.base)).replicas).toEqual([a.url, b.url]);

      // An unknown machine seen now is reported to the replica that is alive.
      const unknown = '52:54:00:5e:ff:01';
      await fetch(`${rack.base}/ipxe/node/${unknown.replace(/:/g, '-')}`);
      await waitFor(() => readFileSync(b.inventoryPath, 'utf8').includes(unknown) || b.log.text().includes(unknown), 10_000, 'the discovery on replica b');

      // b dies, a comes back with one more node: the rack fails over and takes it.
      writeInventory(a, [first, second]);
      await a.restart();
      await b.kill();
      await waitFor(async () => (await scriptFor(rack.base, macOf(second))).includes('bookworm'), 15_000, 'the new node from replica a');
      expect((await health(rack.base)).url).toBe(a.url);
      expect((await health(rack.base)).state).toBe('connected');
      // Old nodes were served throughout.
      expect(await scriptFor(rack.base, macOf(first))).toContain('bookworm');
    } finally {
      await rack.stop();
    }
  });
});
