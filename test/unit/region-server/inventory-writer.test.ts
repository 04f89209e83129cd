import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/sync/inventory/inventory-source.js';
import { appendNode, setNodeStatus } from '../../../src/region-server/inventory-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'edgeboot-writer-'));
const node = (id: string, mac: string) => ({ system_id: id, hostname: `h-${id}`, macs: [mac], arch: 'amd64/generic', status: 'new' });

describe('inventory writer', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('appends a node and keeps the comments of a YAML inventory', async () => {
    const file = join(dir, 'a.yaml');
    writeFileSync(file, '# site inventory\nnodes:\n  - system_id: x1 # first\n    hostname: x1\n    macs: ["52:54:00:00:00:01"]\n    arch: amd64\n    status: ready\n');
    await appendNode(file, node('d1', '52:54:00:00:00:02'));
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# site inventory');
    expect(text).toContain('# first');
    expect((await loadInventory(file)).nodes.map((n) => n.systemId)).toEqual(['x1', 'd1']);
  });

  it('creates discovered.yaml-style files that do not exist yet', async () => {
    const file = join(dir, 'new.yaml');
    await appendNode(file, node('d2', '52:54:00:00:00:03'));
    expect(parse(readFileSync(file, 'utf8')).nodes[0].system_id).toBe('d2');
  });

  it('leaves no temp file behind', () => {
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('sets the status in whichever file of an inventory directory holds the node', async () => {
    const sub = join(dir, 'inv');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sub);
    writeFileSync(join(sub, '10-a.yaml'), 'nodes: []\n');
    writeFileSync(join(sub, '20-b.json'), JSON.stringify({ nodes: [node('d3', '52:54:00:00:00:04')] }));
    const edit = await setNodeStatus(sub, 'd3', 'broken', 'bad disk');
    expect(edit.file).toBe(join(sub, '20-b.json'));
    const json = JSON.parse(readFileSync(edit.file, 'utf8'));
    expect(json.nodes[0]).toMatchObject({ status: 'broken', status_reason: 'bad disk' });
    expect(JSON.parse(edit.before!).nodes[0].status).toBe('new');
  });

  it('answers E_NOT_FOUND for a node no file holds', async () => {
    await expect(setNodeStatus(join(dir, 'inv'), 'nope', 'ready')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});
