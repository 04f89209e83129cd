import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import { startTestAppliance, type TestAppliance } from '../../support/appliance.js';

const execFileAsync = promisify(execFile);
const token = { consumer_key: 'ck-obs-secret', token_key: 'tk-obs-secret', token_secret: 'ts-obs-secret' };
const inventory = {
  nodes: [
    { system_id: 'o1', hostname: 'obs-one', macs: ['52:54:00:dd:00:01'], arch: 'amd64/generic', status: 'deploying', osystem: 'ubuntu', release: 'noble', token },
    { system_id: 'o2', hostname: 'obs-two', macs: ['52:54:00:dd:00:02'], arch: 'amd64/generic', status: 'deployed' },
  ],
};

describe('node API, timeline and status page', () => {
  let t: TestAppliance;
  beforeAll(async () => {
    t = await startTestAppliance(inventory);
  });
  afterAll(async () => {
    await t.stop();
  });

  it('records a boot from lease to answer file on the timeline', async () => {
    t.app.leases.record({ mac: parseMac('52:54:00:dd:00:01'), ip: '127.0.0.1', arch: '0' });
    await (await fetch(`${t.base}/undionly.kpxe`)).arrayBuffer();
    const script = await (await fetch(`${t.base}/ipxe/node/52-54-00-dd-00-01`)).text();
    const seed = /ds=nocloud-net;s=(\S+)/.exec(script)![1]!;
    await (await fetch(`${seed}user-data`)).text();
    const body = (await (await fetch(`${t.base}/api/v1/nodes/52-54-00-dd-00-01/timeline`)).json()) as { events: Array<{ stage: string }>; state: string };
    expect(body.state).toBe('deploying');
    expect(body.events.map((e) => e.stage)).toEqual(['dhcp', 'loader', 'script', 'answer']);
  });

  it('never exposes tokens or signed URLs', async () => {
    const all = JSON.stringify(await (await fetch(`${t.base}/api/v1/nodes`)).json()) + (await (await fetch(`${t.base}/`)).text());
    expect(all).not.toContain('tk-obs-secret');
    expect(all).not.toContain('/answers/');
  });

  it('lists known nodes and unknown MACs, stuck first', async () => {
    const loop = '52:54:00:dd:00:99';
    t.app.leases.record({ mac: parseMac(loop), ip: '127.0.0.9' });
    for (let i = 0; i < 2; i++) {
      t.app.timeline.record(parseMac(loop), { at: Date.now(), stage: 'loader', via: 'tftp', detail: 'undionly.kpxe', outcome: 'ok' });
    }
    const body = (await (await fetch(`${t.base}/api/v1/nodes`)).json()) as { stuck: number; nodes: Array<{ mac: string; flags: Array<{ kind: string }> }> };
    expect(body.nodes[0]!.mac).toBe(loop);
    expect(body.nodes[0]!.flags[0]!.kind).toBe('chain-loop');
    expect(body.stuck).toBe(1);
    expect(body.nodes.map((n) => n.mac)).toContain('52:54:00:dd:00:02');
  });

  it('serves a status page that works without JavaScript and auto-refreshes', async () => {
    const html = await (await fetch(`${t.base}/`)).text();
    expect(html).toContain('<meta http-equiv="refresh"');
    expect(html).not.toContain('<script');
    expect(html).toMatch(/<tr class="stuck" data-mac="52:54:00:dd:00:99">/);
    expect(html).toContain('obs-one');
  });

  it('draws the node timeline as SVG', async () => {
    const html = await (await fetch(`${t.base}/nodes/52:54:00:dd:00:01`)).text();
    expect(html).toContain('<svg id="timeline"');
    expect((html.match(/class="event"/g) ?? []).length).toBe(4);
  });

  it('escapes what it prints', async () => {
    t.app.timeline.record(parseMac('52:54:00:dd:00:01'), { at: Date.now(), stage: 'file', via: 'http', detail: '<script>alert(1)</script>', outcome: 'ok' });
    const html = await (await fetch(`${t.base}/nodes/52:54:00:dd:00:01`)).text();
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('&#60;script&#62;');
  });

  it('explains a node: purpose, reason, candidates, chosen template, loaders, timeline', async () => {
    const x = (await (await fetch(`${t.base}/api/v1/nodes/52-54-00-dd-00-01/explain`)).json()) as {
      purpose: string;
      reason: string;
      kinds: Array<{ kind: string; candidates: string[]; chosen: string }>;
      loaders: Array<{ rule: string }>;
      timeline: unknown[];
    };
    expect(x.purpose).toBe('install');
    expect(x.reason).toContain('obs-one');
    const ipxe = x.kinds.find((k) => k.kind === 'ipxe')!;
    expect(ipxe.candidates[0]).toBe('install_ubuntu_amd64_generic_noble_obs-one');
    expect(ipxe.chosen).toMatch(/ipxe\/install\.eta$/);
    expect(x.timeline.length).toBeGreaterThan(0);
    expect(JSON.stringify(x)).not.toContain('tk-obs-secret');
  });

  it('edgeboot explain prints the explanation from the running appliance', async () => {
    const { stdout } = await execFileAsync(process.execPath, ['dist/src/cli/edgeboot.js', 'explain', '52:54:00:dd:00:01', '--url', t.base]);
    expect(stdout).toContain('purpose:  install');
    expect(stdout).toMatch(/ipxe: .*\*install /);
    expect(stdout).toContain('timeline:');
  });

  it('exposes boot metrics', async () => {
    const text = await (await fetch(`${t.base}/metrics`)).text();
    expect(text).toMatch(/edgeboot_boots_total\{outcome="ok",purpose="install"\} 1/);
    expect(text).toMatch(/edgeboot_boot_to_answer_seconds_count 1/);
    expect(text).toMatch(/edgeboot_served_bytes_total\{class="loader",proto="http"\} \d+/);
    expect(text).toMatch(/edgeboot_stuck_nodes 1/);
  });
});
