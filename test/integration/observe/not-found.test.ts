import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import { startTestAppliance, type TestAppliance } from '../../support/appliance.js';
import { tftpPort as loopbackTftpPort } from '../../support/drill.js';

// Issue 12: a request for a file that does not exist is one info line (peer, name, protocol) and a
// timeline event; shim's optional probes are answered quietly and never mark a node stuck; the
// loader chain a node took reaches the timeline API, explain and /metrics.

const execFileAsync = promisify(execFile);
const MAC = '52:54:00:ee:12:01';
const token = { consumer_key: 'ck-nf-secret', token_key: 'tk-nf-secret', token_secret: 'ts-nf-secret' };
const inventory = {
  nodes: [{ system_id: 'nf1', hostname: 'nf-one', macs: [MAC], arch: 'amd64/generic', status: 'deploying', osystem: 'debian', release: 'trixie', token }],
};
const PROBES = ['revocations_sku.efi', 'revocations_sbat.efi', 'shim_certificate_0.efi'];

describe('missing files, shim probes and the loader chain', () => {
  let t: TestAppliance;
  let tftpPort: number;
  const lines = (pred: (e: Record<string, unknown>) => boolean) => t.log.entries().filter(pred);
  const tftpGet = (name: string) =>
    execFileAsync('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', `tftp://127.0.0.1:${tftpPort}/${name}`]).then(
      () => 0,
      (e: { code?: number }) => e.code ?? -1,
    );
  const timeline = async () =>
    ((await (await fetch(`${t.base}/api/v1/nodes/${MAC.replace(/:/g, '-')}/timeline`)).json()) as { events: Array<{ stage: string; via: string; detail: string; outcome: string }> })
      .events;

  beforeAll(async () => {
    t = await startTestAppliance(inventory, { tftp: { enabled: true, port: 0 }, log: { level: 'debug' } });
    tftpPort = loopbackTftpPort(t.app);
    t.app.leases.record({ mac: parseMac(MAC), ip: '127.0.0.1', arch: '7' });
    mkdirSync(join(t.bootRoot, 'images/nf'), { recursive: true });
    writeFileSync(join(t.bootRoot, 'images/nf/kernel'), 'kernel bytes');
    writeFileSync(join(t.bootRoot, 'snponly.efi'), 'not really iPXE');
  });
  afterAll(async () => {
    await t.stop();
  });

  it('an HTTP request for a missing file is one info line with peer, name and protocol, and a 404', async () => {
    const r = await fetch(`${t.base}/nf-missing-loader.efi?sig=nf-query-secret`);
    expect(r.status).toBe(404);
    await r.text();
    const hits = lines((e) => JSON.stringify(e).includes('nf-missing-loader.efi'));
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ level: 30, msg: 'file not found', proto: 'http', peer: '127.0.0.1', file: 'nf-missing-loader.efi' });
  });

  it('a TFTP request for a missing file is one info line with peer, name and protocol', async () => {
    expect(await tftpGet('nf-missing-tftp.efi')).toBe(68); // curl: "file not found" from the TFTP server
    const hits = lines((e) => JSON.stringify(e).includes('nf-missing-tftp.efi'));
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ level: 30, msg: 'file not found', proto: 'tftp', file: 'nf-missing-tftp.efi' });
    expect(String(hits[0]!.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('a TFTP request for an answer-file path never logs its capability', async () => {
    expect(await tftpGet(`answers/${MAC.replace(/:/g, '-')}/nf-cap-secret/preseed`)).toBe(68);
    expect(t.log.text()).not.toContain('nf-cap-secret');
    expect(t.log.text()).toContain('answers/52-54-00-ee-12-01/[capability]/preseed');
  });

  it('both misses are timeline events of the node at that address, without the query string', async () => {
    const missed = (await timeline()).filter((e) => e.outcome === 'not found');
    expect(missed.map((e) => `${e.via}:${e.stage}:${e.detail}`)).toEqual([
      'http:loader:nf-missing-loader.efi',
      'tftp:loader:nf-missing-tftp.efi',
      'tftp:file:answers/52-54-00-ee-12-01/[capability]/preseed',
    ]);
    expect(t.log.text()).not.toContain('nf-query-secret');
  });

  it("shim's optional probes are answered not found at debug only, never on the timeline", async () => {
    for (let round = 0; round < 3; round++) {
      for (const p of PROBES) {
        expect((await fetch(`${t.base}/${p}`)).status).toBe(404);
        expect(await tftpGet(p)).toBe(68);
      }
    }
    const probeLines = lines((e) => PROBES.some((p) => JSON.stringify(e).includes(p)));
    expect(probeLines.length).toBe(PROBES.length * 3 * 2);
    expect(probeLines.every((e) => e.level === 20)).toBe(true);
    expect((await timeline()).filter((e) => PROBES.some((p) => e.detail.includes(p)))).toEqual([]);
  });

  it('probes between shim and GRUB do not mark the node stuck', async () => {
    const mac = parseMac('52:54:00:ee:12:02');
    t.app.leases.record({ mac, ip: '127.0.0.2', arch: '7' });
    const at = Date.now();
    t.app.timeline.record(mac, { at, stage: 'loader', via: 'tftp', detail: 'shimx64.efi', outcome: 'ok' });
    for (const p of PROBES) {
      const r = await fetch(`http://127.0.0.2:${t.app.httpPort}/${p}`).catch(() => undefined);
      if (r) expect(r.status).toBe(404);
    }
    t.app.timeline.record(mac, { at, stage: 'loader', via: 'tftp', detail: 'grubx64.efi', outcome: 'ok' });
    expect(t.app.timeline.stuck(mac)).toBeUndefined();
    const body = (await (await fetch(`${t.base}/api/v1/nodes`)).json()) as { nodes: Array<{ mac: string; flags: unknown[] }> };
    expect(body.nodes.find((n) => n.mac === mac)!.flags).toEqual([]);
  });

  it('counts missing files on /metrics, probes excluded', async () => {
    const metrics = await (await fetch(`${t.base}/metrics`)).text();
    expect(metrics).toMatch(/edgeboot_files_not_found_total\{class="loader",proto="http"\} 1\b/);
    expect(metrics).toMatch(/edgeboot_files_not_found_total\{class="loader",proto="tftp"\} 1\b/);
    expect(metrics).toMatch(/edgeboot_files_not_found_total\{class="file",proto="tftp"\} 1\b/);
  });

  it('the loader chain the node took reaches the timeline API, explain and /metrics', async () => {
    expect(await tftpGet('snponly.efi')).toBe(0);
    expect((await fetch(`${t.base}/ipxe/node/${MAC.replace(/:/g, '-')}`)).status).toBe(200);
    expect((await (await fetch(`${t.base}/images/nf/kernel`)).text())).toBe('kernel bytes');
    const row = (await (await fetch(`${t.base}/api/v1/nodes/${MAC.replace(/:/g, "-")}/timeline`)).json()) as { chain: string[] };
    expect(row.chain).toEqual(['snponly', 'ipxe script', 'kernel']);
    const x = (await (await fetch(`${t.base}/api/v1/nodes/${MAC.replace(/:/g, '-')}/explain`)).json()) as { chain: string[] };
    expect(x.chain).toEqual(['snponly', 'ipxe script', 'kernel']);
    const metrics = await (await fetch(`${t.base}/metrics`)).text();
    expect(metrics).toContain('edgeboot_boot_chains_total{chain="snponly > ipxe script > kernel"} 1');
    const { stdout } = await execFileAsync(process.execPath, ['dist/src/cli/edgeboot.js', 'explain', MAC, '--url', t.base]);
    expect(stdout).toContain('loader chain of the latest boot: snponly → ipxe script → kernel');
  });
});
