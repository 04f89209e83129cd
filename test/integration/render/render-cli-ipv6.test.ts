import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `edgeboot render` as an operator runs it for an IPv6 rack: the same bracketed URLs the server renders, and a
// zone id refused in one sentence, on the command line and in the config.

const cli = resolve(import.meta.dirname, '../../../dist/src/cli/edgeboot.js');
let dir = '';

function config(extra: Record<string, unknown> = {}): string {
  const path = join(dir, `edgeboot-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, stringify({ inventory: join(dir, 'inv.yaml'), boot_root: dir, answers: { key_file: join(dir, 'key') }, ...extra }));
  return path;
}

function render(args: string[]) {
  const r = spawnSync(process.execPath, [cli, 'render', '--mac', '52:54:00:6a:00:01', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'eb-render6-'));
  const node = { system_id: 'v6n1', hostname: 'v6n1', macs: ['52:54:00:6a:00:01'], arch: 'amd64/generic', status: 'deploying', osystem: 'debian', release: 'bookworm' };
  writeFileSync(join(dir, 'inv.yaml'), stringify({ nodes: [node] }));
  writeFileSync(join(dir, 'key'), Buffer.alloc(32, 3), { mode: 0o600 });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('edgeboot render with IPv6 addresses', () => {
  it('--server-address brackets the literal in every URL', () => {
    const r = render(['-c', config(), '--kind', 'ipxe', '--server-address', 'fd80:21::1', '--client-ip', 'fd80:21::100']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('http://[fd80:21::1]:5248/');
    expect(r.out).not.toMatch(/http:\/\/fd80:21::1/);
  });

  it('server_address in the config brackets the same way', () => {
    const r = render(['-c', config({ server_address: 'fd80:21::1' }), '--kind', 'grub', '--client-ip', 'fd80:21::100']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('(http,[fd80:21::1]:5248)');
  });

  it('refuses a zone id on the command line in one sentence', () => {
    const r = render(['-c', config(), '--kind', 'ipxe', '--server-address', 'fe80::1%eth0']);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/zone id/);
  });

  it('refuses a zone id in server_address and http.listen in the config', () => {
    const a = render(['-c', config({ server_address: 'fe80::1%eth0' }), '--kind', 'ipxe']);
    expect(a.code).not.toBe(0);
    expect(a.err).toMatch(/server_address.*zone id/);
    const b = render(['-c', config({ http: { listen: 'fe80::1%eth0' } }), '--kind', 'ipxe']);
    expect(b.code).not.toBe(0);
    expect(b.err).toMatch(/http\.listen.*zone id/);
  });
});
