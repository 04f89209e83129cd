import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../../src/config/config.js';
import { parseMac } from '../../../src/core/mac.js';
import type { Snapshot } from '../../../src/core/node.js';
import { KINDS, type Kind } from '../../../src/render/kinds.js';
import { parseSnapshot } from '../../../src/contract/snapshot-schema.js';
import { shippedStore, testRenderer } from '../../support/renderer.js';

// The installers' own validators, from Debian packages (test/setup.sh): debconf, cloud-init, grub-common.
const run = promisify(execFile);
const server = { address: '10.231.140.1', httpPort: 5248 };
const UNKNOWN = '52:54:00:77:00:ff';

let n = 0;
const node = (patch: Record<string, unknown>) => {
  n++;
  const h = n.toString(16).padStart(2, '0');
  return {
    system_id: `val${h}`,
    hostname: `val-${h}`,
    macs: [`52:54:00:77:00:${h}`],
    arch: 'amd64/generic',
    osystem: 'ubuntu',
    release: 'noble',
    kernel_opts: 'console=ttyS0,115200',
    token: { consumer_key: `ck${h}`, token_key: `tk${h}`, token_secret: `ts${h}secret` },
    ...patch,
  };
};

/** Deploying Debian and Ubuntu on amd64 and arm64, every other state, a hostile reason. */
const RAW_NODES = [
  node({ status: 'deploying', osystem: 'debian', release: 'bookworm' }),
  node({ status: 'deploying', osystem: 'debian', release: 'trixie', arch: 'arm64/generic' }),
  node({ status: 'deploying', osystem: 'ubuntu', release: 'noble' }),
  node({ status: 'deploying', osystem: 'ubuntu', release: 'jammy', arch: 'arm64/generic' }),
  node({ status: 'commissioning' }),
  node({ status: 'rescue' }),
  node({ status: 'testing' }),
  node({ status: 'new', token: null }),
  node({ status: 'deployed' }),
  node({ status: 'broken', status_reason: "disk ' ; reboot ; echo ${net0/ip} \" `id` $(id) #" }),
];

function snapshotWith(metadataUrl: string): Snapshot {
  return parseSnapshot(
    {
      nodes: RAW_NODES,
      config: { metadata_url: metadataUrl, kernel_opts: 'console=ttyS0,115200 loglevel=4', http_proxy: 'http://proxy.example:3128/' },
      boot_selections: [
        { os: 'ubuntu', release: 'noble', arches: ['amd64', 'arm64'] },
        { os: 'debian', release: 'trixie', arches: ['amd64', 'arm64'] },
      ],
    },
    'validator inventory',
  );
}

const dir = mkdtempSync(join(tmpdir(), 'edgeboot-validators-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run the real validator of `kind` on `text`; resolves with its complaint, or '' when it accepts. */
async function validate(kind: Kind, text: string, name: string): Promise<string> {
  const file = join(dir, `${name}.${kind}`);
  writeFileSync(file, text);
  const tool = (cmd: string, args: string[]) =>
    run(cmd, args, { timeout: 60_000 }).then(
      () => '',
      (err: { stdout?: string; stderr?: string; message: string }) => `${cmd}: ${(err.stderr || err.stdout || err.message).trim()}`,
    );
  switch (kind) {
    case 'preseed':
      return tool('debconf-set-selections', ['--checkonly', file]);
    case 'user-data':
      return tool('cloud-init', ['schema', '--config-file', file]);
    case 'grub':
      return tool('grub-script-check', [file]);
    case 'meta-data': {
      const doc = parseYaml(text) as Record<string, unknown> | null;
      return doc && typeof doc['instance-id'] === 'string' && typeof doc['local-hostname'] === 'string' ? '' : 'meta-data: not a mapping with instance-id and local-hostname';
    }
    case 'ipxe':
      return text.startsWith('#!ipxe\n') ? '' : 'ipxe: does not start with #!ipxe';
    case 'pxelinux':
      return /^(DEFAULT|LABEL|SAY|PROMPT|TIMEOUT|LOCALBOOT|KERNEL|# )/m.test(text) ? '' : 'pxelinux: no PXELINUX directive';
  }
}

/** URL-valued places whose value is not absolute (an installer could never reach it). */
function relativeUrls(text: string): string[] {
  const bad: string[] = [];
  for (const m of text.matchAll(/(?:endpoint|metadata_url|url|ds=nocloud-net;s)[:=]\s*("[^"]*"|[^\s;]*)/g)) if (!/^"?https?:\/\//.test(m[1]!)) bad.push(m[0]);
  for (const m of text.matchAll(/'([^' ]*\?op=signal[^']*)'/g)) if (!/^https?:\/\//.test(m[1]!)) bad.push(m[0]);
  for (const m of text.matchAll(/(?<![\w/:.])(?:latest|status)\/\S*/g)) bad.push(m[0]);
  return bad;
}

interface Rendered {
  name: string;
  kind: Kind;
  text: string;
}

function renderAll(snapshot: Snapshot, label: string, store = shippedStore()): Rendered[] {
  const renderer = testRenderer(snapshot, store);
  const out: Rendered[] = [];
  const machines = [...snapshot.nodes.map((x) => ({ node: x, mac: x.macs[0]! })), { node: undefined, mac: parseMac(UNKNOWN) }];
  for (const { node: nd, mac } of machines) {
    for (const kind of KINDS) {
      const r = renderer.render({ kind, node: nd, mac, server, clientIp: '10.231.140.50', buildarch: nd?.arch === 'arm64' ? 'arm64' : undefined });
      out.push({ name: `${label}-${nd?.hostname ?? 'unknown'}-${r.decision.purpose}`, kind, text: r.text });
    }
  }
  return out;
}

async function validateAll(files: Rendered[]): Promise<{ checked: number; problems: string[] }> {
  const problems: string[] = [];
  let checked = 0;
  // Two at a time: the machine's two cores are shared.
  for (let i = 0; i < files.length; i += 2) {
    const batch = files.slice(i, i + 2);
    const res = await Promise.all(batch.map((f) => validate(f.kind, f.text, f.name)));
    res.forEach((p, j) => {
      checked++;
      if (p) problems.push(`${batch[j]!.name} ${batch[j]!.kind}: ${p}`);
    });
  }
  return { checked, problems };
}

describe('every render of a representative inventory passes the installers’ own validators', () => {
  const withRegion = renderAll(snapshotWith('http://10.231.140.2:5240/MAAS/metadata/'), 'region');
  const withoutRegion = renderAll(snapshotWith(''), 'noregion');

  it('covers every purpose × kind, with and without a metadata_url', () => {
    const purposes = new Set(withRegion.map((f) => f.name.split('-').pop()));
    expect([...purposes].sort()).toEqual(['commission', 'enlist', 'error', 'install', 'local', 'rescue', 'wait']);
    expect(withRegion.length + withoutRegion.length).toBe(2 * 11 * KINDS.length);
  });

  it('preseed (debconf-set-selections --checkonly), user-data (cloud-init schema), grub (grub-script-check), meta-data (YAML) all accept', async () => {
    const files = [...withRegion, ...withoutRegion];
    const { checked, problems } = await validateAll(files);
    const byKind = Object.fromEntries(KINDS.map((k) => [k, files.filter((f) => f.kind === k).length]));
    console.log(`validated ${checked} rendered files: ${JSON.stringify(byKind)}`);
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(60);
  }, 600_000);

  it('the installer-facing files carry what the validators cannot see: absolute callbacks, the cluster kernel options', () => {
    for (const f of [...withRegion, ...withoutRegion]) expect(relativeUrls(f.text), `${f.name} ${f.kind}`).toEqual([]);
    const deb = withRegion.find((f) => f.kind === 'preseed' && f.name.includes('val-01'))!;
    expect(deb.text).toContain("'http://10.231.140.2:5240/MAAS/metadata/latest/?op=signal&status=OK'");
    const noDeb = withoutRegion.find((f) => f.kind === 'preseed' && f.name.includes('val-01'))!;
    expect(noDeb.text).toContain('config.metadata_url is empty');
    const enlist = withRegion.filter((f) => f.name.includes('unknown-enlist') && ['ipxe', 'pxelinux', 'grub'].includes(f.kind));
    expect(enlist).toHaveLength(3);
    // GRUB passes each kernel parameter as its own quoted word; iPXE and PXELINUX write one line.
    for (const f of enlist) expect(f.text.replaceAll("' '", ' '), f.kind).toContain('console=ttyS0,115200 loglevel=4');
  });

  it('a planted bad template is caught by each validator', async () => {
    const planted: Record<string, string> = {
      preseed: 'd-i debian-installer/locale\n  string en_US.UTF-8\n', // the value wrapped onto its own line: debconf cannot parse it
      'user-data': '#cloud-config\nhostname: <%= it.json(it.hostname) %>\nruncmd: echo not-a-list\npower_state: {mode: sideways}\n',
      grub: "menuentry 'x' {\n  linux /k\n",
      'meta-data': 'instance-id: [unclosed\n',
    };
    // A layer in front of the shipped templates, as an operator's template_dirs would be.
    const store = shippedStore([join(dir, 'planted')]);
    for (const [kind, text] of Object.entries(planted)) {
      const err = store.put(0, kind as Kind, 'install', text, `planted/${kind}/install.eta`);
      if (err) throw err;
    }
    const snap = snapshotWith('http://10.231.140.2:5240/MAAS/metadata/');
    const renderer = testRenderer(snap, store);
    for (const kind of Object.keys(planted) as Kind[]) {
      const r = renderer.render({ kind, node: snap.nodes[0], mac: snap.nodes[0]!.macs[0]!, server, clientIp: '10.231.140.50' });
      let problem: string;
      try {
        problem = await validate(kind, r.text, `planted-${kind}`);
      } catch (err) {
        problem = String(err);
      }
      expect(problem, `planted ${kind} must be refused`).not.toBe('');
    }
  }, 120_000);
});

describe('edgeboot check and render --explain name the missing callback setting', () => {
  it('fails on an empty metadata_url while nodes have tokens, naming config.metadata_url', async () => {
    const d = mkdtempSync(join(tmpdir(), 'edgeboot-check-'));
    try {
      writeFileSync(join(d, 'inventory.yaml'), JSON.stringify({ nodes: RAW_NODES, config: { metadata_url: '' } }));
      writeFileSync(join(d, 'edgeboot.yaml'), 'inventory: inventory.yaml\nboot_root: boot\n');
      const cli = join(packageRoot(), 'dist/src/cli/edgeboot.js');
      const out = await run(process.execPath, [cli, 'check', '--config', join(d, 'edgeboot.yaml')]).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
      );
      expect(out.code).toBe(1);
      expect(out.stdout).toMatch(/FAIL {2}config\.metadata_url is empty.*set config\.metadata_url/);
      const explain = await run(process.execPath, [cli, 'render', '--config', join(d, 'edgeboot.yaml'), '--mac', '52:54:00:77:00:01', '--kind', 'preseed', '--explain', '--client-ip', '10.231.140.50']);
      expect(explain.stdout).toMatch(/^callback: {2}left out of answer files: config\.metadata_url is empty.*\(set config\.metadata_url\)$/m);
      expect(explain.stdout).not.toContain('op=signal');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
