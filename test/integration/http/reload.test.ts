import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAppliance, type TestAppliance, waitFor } from '../../support/appliance.js';

const execFileAsync = promisify(execFile);

const inventory = {
  nodes: [
    { system_id: 's1', hostname: 'alpha', macs: ['52:54:00:cc:00:01'], arch: 'amd64/generic', status: 'rescue', osystem: 'ubuntu', release: 'noble' },
  ],
};

describe('templates and inventory follow edits safely', () => {
  let t: TestAppliance;
  beforeAll(async () => {
    t = await startTestAppliance(inventory);
  });
  afterAll(async () => {
    await t.stop();
  });

  const script = async () => {
    const res = await fetch(`${t.base}/ipxe/node/52-54-00-cc-00-01`);
    return { status: res.status, text: await res.text() };
  };

  it('a template that fails at render time is a 500 and a log line naming it', async () => {
    mkdirSync(join(t.overrideDir, 'ipxe'), { recursive: true });
    const file = join(t.overrideDir, 'ipxe', 'rescue_ubuntu.eta');
    writeFileSync(file, '#!ipxe\necho <%= it.noSuchField %>\n');
    await waitFor(async () => (await script()).status === 500, 5000, 'the broken template to be used');
    const res = await script();
    expect(res.text).toContain('could not render');
    expect(res.text).not.toContain('noSuchField');
    const line = t.log.entries().find((e) => e.msg === 'request failed' && String(e.err).includes(file));
    expect(line, t.log.text()).toBeDefined();
    expect(String(line!.err)).toContain('undefined value');
  });

  it('an edit that does not compile leaves the last good version serving', async () => {
    const file = join(t.overrideDir, 'ipxe', 'rescue_ubuntu.eta');
    writeFileSync(file, '#!ipxe\necho good version for <%= it.hostname %>\n');
    await waitFor(async () => (await script()).text.includes('good version for alpha'), 5000, 'the good template');
    writeFileSync(file, '#!ipxe\necho broken <%= it.hostname \n');
    await waitFor(() => t.log.entries().some((e) => String(e.msg).includes('template rejected') && String(e.err).includes(file)), 5000, 'rejection log');
    const res = await script();
    expect(res.status).toBe(200);
    expect(res.text).toContain('good version for alpha');
    const health = (await (await fetch(`${t.base}/healthz`)).json()) as { templateErrors: string[] };
    expect(health.templateErrors.join()).toContain(file);
  });

  it('a garbage inventory edit is reported and the last good snapshot kept', async () => {
    const before = t.app.store.status().version;
    writeFileSync(t.inventoryPath, 'nodes: [ {{{ not yaml');
    await waitFor(() => t.log.entries().some((e) => String(e.msg).includes('inventory rejected')), 5000, 'rejection');
    expect(t.app.store.status().version).toBe(before);
    expect((await script()).status).toBe(200);
  });

  it('an inventory edit that parses but does not validate is also refused whole', async () => {
    const before = t.app.store.status().version;
    writeFileSync(
      t.inventoryPath,
      JSON.stringify({ nodes: [inventory.nodes[0], { system_id: 's2', hostname: 'beta', macs: ['not-a-mac'], arch: 'amd64', status: 'ready' }] }),
    );
    await waitFor(() => t.log.entries().some((e) => String(e.err ?? '').includes('nodes[1].macs[0]')), 5000, 'validation error');
    expect(t.app.store.status().version).toBe(before);
  });

  it('a good inventory edit is picked up', async () => {
    writeFileSync(t.inventoryPath, JSON.stringify({ nodes: [{ ...inventory.nodes[0], hostname: 'alpha2', status: 'deployed' }] }));
    await waitFor(async () => (await script()).text.includes('alpha2'), 5000, 'new snapshot');
  });
});

describe('static files with Range', () => {
  let t: TestAppliance;
  let data: Buffer;
  beforeAll(async () => {
    t = await startTestAppliance(inventory);
    const dir = join(t.bootRoot, 'images/ubuntu/amd64/generic/noble/stable');
    mkdirSync(dir, { recursive: true });
    data = randomBytes(64 * 1024 * 1024);
    writeFileSync(join(dir, 'squashfs'), data);
  });
  afterAll(async () => {
    await t.stop();
  });
  const url = () => `${t.base}/images/ubuntu/amd64/generic/noble/stable/squashfs`;

  it('serves the whole 64 MiB file byte-exact', async () => {
    const body = Buffer.from(await (await fetch(url())).arrayBuffer());
    expect(createHash('sha256').update(body).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('HEAD gives the length and accepts ranges', async () => {
    const res = await fetch(url(), { method: 'HEAD' });
    expect(res.headers.get('content-length')).toBe(String(data.length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
  });

  it('a middle range returns 206 with exactly those bytes', async () => {
    const start = 33_554_000;
    const end = start + 1_048_575;
    const res = await fetch(url(), { headers: { Range: `bytes=${start}-${end}` } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${data.length}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(data.subarray(start, end + 1))).toBe(true);
  });

  it('a suffix range returns the tail', async () => {
    const res = await fetch(url(), { headers: { Range: 'bytes=-1000' } });
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer()).equals(data.subarray(data.length - 1000))).toBe(true);
  });

  it('an unsatisfiable range is 416', async () => {
    const res = await fetch(url(), { headers: { Range: `bytes=${data.length + 10}-` } });
    expect(res.status).toBe(416);
  });

  it('curl resumes a download with a range', async () => {
    // Async: the server runs in this process, so a synchronous child would deadlock it.
    const { stdout } = await execFileAsync('curl', ['-sS', '--max-time', '20', '-r', '67108000-', url()], { encoding: 'buffer', maxBuffer: 1 << 20 });
    expect(stdout.equals(data.subarray(67_108_000))).toBe(true);
  });
});
