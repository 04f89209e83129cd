import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestAppliance } from '../../support/appliance.js';
import { waitFor } from '../../support/appliance.js';
import { rawNode, scriptFor, startRack, startRegion, TOKENS, type TestRegion } from '../../support/region-harness.js';

const run = promisify(execFile);
const token = (i: number) => ({ consumer_key: `ck-node-${i}`, token_key: `tk-node-${i}`, token_secret: `ts-node-${i}-secret` });
const mac = (i: number) => `52:54:00:5e:00:0${i}`;
const oauth = (i: number, encoded = false) =>
  `OAuth oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="ck-node-${i}", oauth_token="tk-node-${i}", oauth_signature="${encoded ? '%26' : '&'}ts-node-${i}-secret"`;

describe('the install signal closes the loop: deploying -> signal -> deployed -> next boot is local', () => {
  let region: TestRegion;
  let rack: TestAppliance;
  const status = (i: number) => {
    const nodes = (parse(readFileSync(region.inventoryPath, 'utf8')) as { nodes: Array<Record<string, unknown>> }).nodes;
    return nodes.find((n) => n.system_id === `sys000${i}`)!;
  };
  const post = (path: string, headers: Record<string, string> = {}, body?: string) =>
    fetch(`${region.url}/MAAS/metadata/${path}`, { method: 'POST', headers, body });

  beforeAll(async () => {
    const deploying = { status: 'deploying', osystem: 'debian', release: 'trixie' };
    region = await startRegion({
      config: { metadata_url: 'http://placeholder/' },
      nodes: [1, 2, 3, 4].map((i) => rawNode(i, { ...deploying, token: token(i) })).concat([rawNode(5, { status: 'commissioning', token: token(5) }), rawNode(6, { status: 'deploying', token: token(6) })]),
    });
    // The metadata URL names the region's port, known only once it listens.
    const inv = readFileSync(region.inventoryPath, 'utf8').replace('http://placeholder/', `${region.url}/MAAS/metadata/`);
    writeFileSync(region.inventoryPath, inv);
    await region.server.reload();
    rack = await startRack(region.url, { region: { wait_seconds: 2 } });
  });
  afterAll(async () => {
    await rack?.stop();
    await region?.cleanup();
  });

  it('the rendered preseed late_command, run as d-i runs it, moves the node to deployed and the next boot is local', async () => {
    await waitFor(async () => (await scriptFor(rack.base, mac(1))).includes('url='), 5000, 'install script');
    const script = await scriptFor(rack.base, mac(1));
    const preseedUrl = /url=(\S+)/.exec(script)![1]!;
    const preseed = await (await fetch(preseedUrl)).text();
    const late = /^d-i preseed\/late_command string in-target (.*) \|\| true$/m.exec(preseed);
    expect(late, 'the preseed carries the install signal').not.toBeNull();
    expect(late![1]).toContain(`'${region.url}/MAAS/metadata/latest/?op=signal&status=OK'`);
    // d-i runs it with sh inside the target; curl -f makes a refused signal a failure here.
    const { stdout } = await run('sh', ['-c', late![1]!]);
    expect(stdout).toContain('deploying -> deployed');
    expect(status(1).status).toBe('deployed');
    await waitFor(async () => /sanboot|exit/.test(await scriptFor(rack.base, mac(1))), 10_000, 'local-disk script after sync');
    const next = await scriptFor(rack.base, mac(1));
    expect(next).toContain('boot from local disk');
    expect(next).not.toContain('url=');
  });

  it("an Ubuntu autoinstall's rendered late-command signals the same way", async () => {
    await waitFor(async () => (await scriptFor(rack.base, mac(6))).includes('ds=nocloud-net'), 5000, 'ubuntu install script');
    const seed = /ds=nocloud-net;s=(\S+)/.exec(await scriptFor(rack.base, mac(6)))![1]!;
    const userData = parse(await (await fetch(`${seed}user-data`)).text()) as { autoinstall: { 'late-commands': string[] } };
    const [late] = userData.autoinstall['late-commands'];
    expect(late).toContain(`'${region.url}/MAAS/metadata/latest/?op=signal&status=OK'`);
    await run('sh', ['-c', late!.replace(/ \|\| true$/, '')]);
    expect(status(6).status).toBe('deployed');
    await waitFor(async () => (await scriptFor(rack.base, mac(6))).includes('boot from local disk'), 10_000, 'local-disk script after sync');
  });

  it('is idempotent: the same signal again changes nothing and answers OK', async () => {
    const res = await post('latest/?op=signal&status=OK', { authorization: oauth(1) });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('already deployed');
    expect(status(1).status).toBe('deployed');
  });

  it('FAILED moves a deploying node to failed_deployment with the reason, and the rack boots the error script', async () => {
    const res = await post('latest/?op=signal&status=FAILED&error=grub-install%20failed', { authorization: oauth(2) });
    expect(res.status).toBe(200);
    expect(status(2)).toMatchObject({ status: 'failed_deployment', status_reason: 'installation failed: grub-install failed' });
    await waitFor(async () => (await scriptFor(rack.base, mac(2))).includes('grub-install failed'), 10_000, 'error script with the reason');
    expect(await scriptFor(rack.base, mac(2))).toContain('failed_deployment');
  });

  it("cloud-init's webhook report (percent-encoded PLAINTEXT signature) of a successful modules-final deploys the node", async () => {
    const body = JSON.stringify({ origin: 'cloudinit', name: 'modules-final', event_type: 'finish', result: 'SUCCESS', description: 'running modules for final' });
    const res = await post('status/sys0003', { authorization: oauth(3, true), 'content-type': 'application/json' }, body);
    expect(res.status).toBe(200);
    expect(status(3).status).toBe('deployed');
  });

  it("refuses a wrong token, another node's token and a missing one; the node stays deploying", async () => {
    const wrong = oauth(4).replace('ts-node-4-secret', 'ts-node-4-guess');
    expect((await post('latest/?op=signal&status=OK', { authorization: wrong })).status).toBe(401);
    expect((await post('latest/?op=signal&status=OK')).status).toBe(401);
    expect((await post('latest/?op=signal&status=OK', { authorization: `Bearer ${TOKENS.admin}` })).status).toBe(401);
    const other = await post('status/sys0004', { authorization: oauth(3), 'content-type': 'application/json' }, JSON.stringify({ name: 'modules-final', event_type: 'finish', origin: 'cloudinit', result: 'SUCCESS' }));
    expect(other.status).toBe(403);
    expect((await post('latest/?op=signal&status=MAYBE', { authorization: oauth(4) })).status).toBe(400);
    expect(status(4).status).toBe('deploying');
  });

  it('a signal for a node that is not deploying is refused (409); a report from it is only noted', async () => {
    const res = await post('latest/?op=signal&status=OK', { authorization: oauth(5) });
    expect(res.status).toBe(409);
    expect(await res.text()).toContain('is commissioning, not deploying');
    const report = await post('status/sys0005', { authorization: oauth(5, true), 'content-type': 'application/json' }, JSON.stringify({ origin: 'cloudinit', name: 'init-network', event_type: 'start' }));
    expect(report.status).toBe(200);
    expect(status(5).status).toBe('commissioning');
  });

  it('no token part reaches the region log or the kept reports', () => {
    const text = region.log.text() + JSON.stringify(region.server.reports);
    for (const i of [1, 2, 3, 4, 5, 6]) {
      expect(text).not.toContain(`ts-node-${i}-secret`);
      expect(text).not.toContain(`tk-node-${i}`);
    }
    expect(region.server.reports.length).toBeGreaterThanOrEqual(6);
  });
});
