import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

// Issue 6: build the .deb from this clone, install it in a debootstrapped Debian 13 root, run it as its
// unit would, upgrade it and purge it (test/package/install-test.sh does the work and counts failures).

const SCRIPT = join(import.meta.dirname, 'install-test.sh');

it('the Debian package builds, installs, serves, upgrades and purges on a clean trixie root', async () => {
  const out: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('bash', [SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => out.push(b.toString()));
    child.stderr.on('data', (b: Buffer) => out.push(b.toString()));
    child.on('error', reject);
    child.on('close', resolve);
  });
  const text = out.join('');
  console.log(text.split('\n').filter((l) => /PASS|FAIL|exposure|built:|lintian/i.test(l)).join('\n'));
  expect(code, text.slice(-6000)).toBe(0);
}, 1_500_000);
