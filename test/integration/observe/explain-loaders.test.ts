import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAppliance, type TestAppliance } from '../../support/appliance.js';

// `edgeboot explain` and `edgeboot check` say which file each loader name of the DHCP answer resolves to,
// and name the unsigned twin that is never served under a Secure Boot name.

const execFileAsync = promisify(execFile);
const inventory = { nodes: [{ system_id: 'l1', hostname: 'sb-one', macs: ['52:54:00:dd:01:01'], arch: 'amd64/generic', status: 'deploying' }] };

describe('loader files in explain and check (Secure Boot on)', () => {
  let t: TestAppliance;
  let loaders: string;

  beforeAll(async () => {
    loaders = mkdtempSync(join(tmpdir(), 'edgeboot-loaders-'));
    mkdirSync(join(loaders, 'shim'));
    mkdirSync(join(loaders, 'grub'));
    writeFileSync(join(loaders, 'shim/shimx64.efi'), 'unsigned');
    writeFileSync(join(loaders, 'shim/shimx64.efi.signed'), 'signed');
    writeFileSync(join(loaders, 'grub/grubnetx64.efi.signed'), 'signed grub');
    t = await startTestAppliance(inventory, {
      server_address: '10.9.9.1',
      loader_dirs: [join(loaders, 'shim'), join(loaders, 'grub')],
      dhcp: { secure_boot: true, lease_intake: false },
    });
  });

  afterAll(async () => {
    await t.stop();
    rmSync(loaders, { recursive: true, force: true });
  });

  it('the explain API lists shim, the GRUB it loads and MokManager with the files they resolve to', async () => {
    const x = (await (await fetch(`${t.base}/api/v1/nodes/52-54-00-dd-01-01/explain`)).json()) as {
      loaderFiles: Array<{ name: string; path: string | null; note: string }>;
    };
    const byName = new Map(x.loaderFiles.map((f) => [f.name, f]));
    expect(byName.get('shimx64.efi')?.path).toBe(join(loaders, 'shim/shimx64.efi.signed'));
    expect(byName.get('shimx64.efi')?.note).toContain(`not served: ${join(loaders, 'shim/shimx64.efi')}`);
    expect(byName.get('grubx64.efi')?.path).toBe(join(loaders, 'grub/grubnetx64.efi.signed'));
    expect(byName.get('mmx64.efi')?.path).toBeNull();
  });

  it('edgeboot explain prints the loader files', async () => {
    const { stdout } = await execFileAsync(process.execPath, ['dist/src/cli/edgeboot.js', 'explain', '52:54:00:dd:01:01', '--url', t.base]);
    expect(stdout).toContain('loader files (what each name is answered with):');
    expect(stdout).toMatch(new RegExp(`shimx64\\.efi\\s+→ ${join(loaders, 'shim/shimx64.efi.signed').replace(/[.+]/g, '\\$&')}`));
  });

  it('edgeboot check names the signed file and the unsigned twin it will not serve', async () => {
    const config = join(t.dir, 'edgeboot.yaml');
    const r = await execFileAsync(process.execPath, ['dist/src/cli/edgeboot.js', 'check', '--config', config]).catch((e: { stdout: string }) => e);
    expect(r.stdout).toContain(`ok    loader shimx64.efi: ${join(loaders, 'shim/shimx64.efi.signed')} (not served: ${join(loaders, 'shim/shimx64.efi')})`);
    expect(r.stdout).toContain(`ok    loader grubx64.efi: ${join(loaders, 'grub/grubnetx64.efi.signed')}`);
  });
});
