import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFrom, startTestAppliance, type TestAppliance, waitFor } from '../../support/appliance.js';

const token = { consumer_key: 'ck-it-secret', token_key: 'tk-it-secret', token_secret: 'ts-it-secret' };
const STATES = ['new', 'commissioning', 'testing', 'deploying', 'deployed', 'allocated', 'ready', 'rescue', 'failed', 'broken', 'weird'];

function inventory(extra: Array<Record<string, unknown>> = []) {
  return {
    config: { metadata_url: 'http://region.test:5240/MAAS/metadata/' },
    nodes: [
      ...STATES.map((status, i) => ({
        system_id: `sys${i}`,
        hostname: `host-${status}`,
        macs: [`52:54:00:aa:00:${i.toString(16).padStart(2, '0')}`],
        arch: 'amd64/generic',
        status,
        status_reason: status === 'broken' ? 'PSU 2 failed' : undefined,
        osystem: 'ubuntu',
        release: 'noble',
        token,
      })),
      {
        system_id: 'uuidnode',
        hostname: 'by-uuid',
        macs: ['52:54:00:bb:00:01'],
        uuid: '4c4c4544-0042-3510-8056-b4c04f395231',
        arch: 'amd64/generic',
        status: 'commissioning',
      },
      ...extra,
    ],
  };
}

const macOf = (status: string) => `52-54-00-aa-00-${STATES.indexOf(status).toString(16).padStart(2, '0')}`;

describe('HTTP routes', () => {
  let t: TestAppliance;
  beforeAll(async () => {
    t = await startTestAppliance(inventory());
  });
  afterAll(async () => {
    await t.stop();
  });

  it('GET /boot.ipxe chains to the per-node script with iPXE expansions', async () => {
    const res = await fetch(`${t.base}/boot.ipxe`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text.startsWith('#!ipxe')).toBe(true);
    expect(text).toContain('${net0/mac:hexhyp}');
    expect(text).toMatch(/chain --autofree http:\/\/127\.0\.0\.1:\d+\/ipxe\/node\/\$\{edgeboot_mac\}\?uuid=\$\{uuid:uristring\}&buildarch=\$\{buildarch:uristring\}&platform=\$\{platform:uristring\}/);
  });

  it('a known MAC in state deploying gets the install script naming the server address it asked', async () => {
    const text = await (await fetch(`${t.base}/ipxe/node/${macOf('deploying')}?buildarch=x86_64&platform=pcbios`)).text();
    expect(text).toContain('install boot for host-deploying');
    expect(text).toContain(`http://127.0.0.1:${t.app.httpPort}/images/ubuntu/amd64/generic/noble/stable/kernel`);
    expect(text).not.toContain('tk-it-secret');
  });

  const expectations: Record<string, RegExp> = {
    new: /awaiting approval/,
    commissioning: /commission boot for host-commissioning/,
    testing: /commission boot for host-testing/,
    deploying: /install boot/,
    deployed: /sanboot/,
    allocated: /sanboot/,
    ready: /sanboot/,
    rescue: /rescue boot/,
    failed: /state: failed/,
    broken: /reason: .*PSU 2 failed/,
    weird: /state: weird/,
  };
  for (const state of STATES) {
    it(`a node in state ${state} gets its purpose's script`, async () => {
      const res = await fetch(`${t.base}/ipxe/node/${macOf(state)}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(expectations[state]!);
    });
  }

  it('a failed node is logged as a warning', async () => {
    await fetch(`${t.base}/ipxe/node/${macOf('failed')}`);
    await waitFor(() => t.log.entries().some((e) => e.level === 40 && String(e.msg).includes('host-failed')), 2000, 'warning');
  });

  it('an unknown MAC enlists and is recorded as a discovery', async () => {
    const text = await (await fetch(`${t.base}/ipxe/node/52-54-00-ff-ff-01?buildarch=arm64`)).text();
    expect(text).toContain('enlist boot');
    expect(text).toContain('/images/ubuntu/arm64/generic/');
    expect(t.app.discoveries.list().map((d) => d.mac)).toContain('52:54:00:ff:ff:01');
  });

  it('a MAC in another spelling finds the same node', async () => {
    const text = await (await fetch(`${t.base}/ipxe/node/${macOf('deploying').replace(/-/g, ':').toUpperCase()}`)).text();
    expect(text).toContain('host-deploying');
  });

  it('a malformed MAC is one clear 400 sentence', async () => {
    const res = await fetch(`${t.base}/ipxe/node/not-a-mac`);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/^"not-a-mac" is not a MAC address/);
  });

  it('ipxe_config finds a node by UUID', async () => {
    const text = await (await fetch(`${t.base}/ipxe_config?node_uuid=4C4C4544-0042-3510-8056-B4C04F395231`)).text();
    expect(text).toContain('by-uuid');
  });

  it('ipxe_config finds a node by port_address', async () => {
    const text = await (await fetch(`${t.base}/ipxe_config?port_address=${macOf('rescue')}`)).text();
    expect(text).toContain('host-rescue');
  });

  it('ipxe_config without a key is a 400', async () => {
    expect((await fetch(`${t.base}/ipxe_config`)).status).toBe(400);
  });

  it('the per-node script URL from ${uuid} with an empty UUID still works', async () => {
    expect((await fetch(`${t.base}/ipxe/node/${macOf('deploying')}?uuid=&buildarch=x86_64`)).status).toBe(200);
  });

  async function seedFor(state: string, from = '127.0.0.1'): Promise<string> {
    const res = await getFrom(`${t.base}/ipxe/node/${macOf(state)}`, from);
    const m = /ds=nocloud-net;s=(\S+)/.exec(res.body);
    if (!m) throw new Error(`no seed URL in ${res.body}`);
    return m[1]!;
  }

  it('the signed answer file carries the node hostname and token', async () => {
    const seed = await seedFor('deploying');
    const res = await fetch(`${seed}user-data`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain('host-deploying');
    expect(text).toContain('tk-it-secret');
    expect((await (await fetch(`${seed}meta-data`)).text())).toContain('local-hostname: "host-deploying"');
  });

  it('the answer-file URL is refused from another IP', async () => {
    const seed = await seedFor('deploying');
    const res = await getFrom(`${seed}user-data`, '127.0.0.2');
    expect(res.status).toBe(403);
    expect(res.body).toContain('issued to another IP address');
  });

  it('a tampered answer-file URL is refused', async () => {
    const seed = await seedFor('deploying');
    const res = await fetch(`${seed.replace(/\.([A-Za-z0-9_-])([A-Za-z0-9_-]{42})\/$/, (_m, c, rest) => `.${c === 'A' ? 'B' : 'A'}${rest}/`)}user-data`);
    expect(res.status).toBe(403);
  });

  it('an unsigned answer-file URL is refused', async () => {
    const res = await fetch(`${t.base}/answers/${macOf('deploying')}/nothing/user-data`);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('not a valid signed URL');
  });

  it('a leased IP of the same MAC may fetch the answer file', async () => {
    const seed = await seedFor('deploying');
    t.app.leases.record({ mac: macOf('deploying').replace(/-/g, ':') as never, ip: '127.0.0.3' });
    expect((await getFrom(`${seed}user-data`, '127.0.0.3')).status).toBe(200);
  });

  it('never logs the capability, a query string or the token', async () => {
    const seed = await seedFor('deploying');
    await fetch(`${seed}user-data`);
    await fetch(`${t.base}/ipxe_config?port_address=${macOf('deploying')}&secret=x`);
    const cap = /answers\/[^/]+\/([^/]+)\//.exec(seed)![1]!;
    const text = t.log.text();
    expect(text).toContain('[capability]');
    expect(text).not.toContain(cap);
    expect(text).not.toContain('tk-it-secret');
    expect(text).not.toContain('ts-it-secret');
    expect(text).not.toContain('secret=x');
  });

  it('GET /healthz reports the snapshot', async () => {
    const body = (await (await fetch(`${t.base}/healthz`)).json()) as { ready: boolean; snapshot: { nodes: number } };
    expect(body.ready).toBe(true);
    expect(body.snapshot.nodes).toBe(STATES.length + 1);
  });

  it('GET /metrics exposes request counters, render latency, nodes and snapshot age', async () => {
    const text = await (await fetch(`${t.base}/metrics`)).text();
    expect(text).toMatch(/edgeboot_http_requests_total\{route="ipxe-node",status="200"\} \d+/);
    expect(text).toContain('edgeboot_render_seconds_bucket');
    expect(text).toMatch(/edgeboot_nodes_loaded \d+/);
    expect(text).toMatch(/edgeboot_snapshot_age_seconds [\d.]+/);
    expect(text).not.toContain('tk-it-secret');
  });

  it('GET /metrics carries the standard process_* and nodejs_* series stock dashboards expect', async () => {
    const text = await (await fetch(`${t.base}/metrics`)).text();
    expect(text).toMatch(/^process_resident_memory_bytes [1-9]\d*$/m);
    expect(text).toMatch(/^process_cpu_seconds_total [\d.e+-]+$/m);
    expect(text).toMatch(/^process_open_fds [1-9]\d*$/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds [\d.e+-]+$/m);
    expect(text).toContain('# TYPE nodejs_gc_duration_seconds histogram');
  });

  it('serves boot loaders from the Debian package paths', async () => {
    const res = await fetch(`${t.base}/undionly.kpxe`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).length).toBeGreaterThan(10_000);
  });

  it('refuses traversal out of the boot root', async () => {
    for (const p of ['/..%2f..%2fetc%2fpasswd', '/images/..%2f..%2f..%2fetc/passwd', '/%00', '/a%5c..%5cb']) {
      const res = await fetch(`${t.base}${p}`);
      expect(res.status, p).toBeGreaterThanOrEqual(400);
      expect(res.status, p).toBeLessThan(500);
      expect(await res.text()).not.toContain('root:');
    }
  });

  it('renders pxelinux.cfg over HTTP for lpxelinux', async () => {
    const text = await (await fetch(`${t.base}/pxelinux.cfg/01-${macOf('deployed')}`)).text();
    expect(text).toContain('LOCALBOOT 0');
  });

  it('writes nothing it renders to disk', () => {
    const files = execFileSync('find', [t.dir, '-type', 'f'], { encoding: 'utf8' }).trim().split('\n');
    // Only the inputs and the two secrets edgeboot creates on first start (URL key, lease-hook secret).
    expect(files.map((f) => f.slice(t.dir.length)).sort()).toEqual(['/edgeboot.yaml', '/inventory.yaml', '/key', '/lease-hook.secret']);
  });

  it('a second appliance with the same key accepts the first one\'s URLs (no server-side session)', async () => {
    const seed = await seedFor('deploying');
    const other = await startTestAppliance(inventory(), { answers: { key_file: join(t.dir, 'key') } });
    try {
      const url = seed.replace(t.base, other.base);
      expect((await fetch(`${url}user-data`)).status).toBe(200);
    } finally {
      await other.stop();
    }
  });

  it('the key file is created with mode 0600', () => {
    const mode = execFileSync('stat', ['-c', '%a', join(t.dir, 'key')], { encoding: 'utf8' }).trim();
    expect(mode).toBe('600');
  });

  it('an override template wins over the shipped one', async () => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(t.overrideDir, 'ipxe'), { recursive: true });
    writeFileSync(join(t.overrideDir, 'ipxe', 'rescue.eta'), '#!ipxe\necho custom rescue for <%= it.hostname %>\n');
    await waitFor(async () => (await (await fetch(`${t.base}/ipxe/node/${macOf('rescue')}`)).text()).includes('custom rescue for host-rescue'), 5000, 'override');
  });
});
