import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheRoot } from './paths.js';
import { run } from './process.js';

/** The suite and packages of the cached root; change them and the cache key changes with them. */
const SUITE = 'trixie';
// python3-cffi-backend: debootstrap does not resolve the virtual python3-cffi-backend-api-* that
// python3-cryptography (cloud-init → python3-oauthlib) needs, so it is named here.
const PACKAGES = ['systemd-sysv', 'cloud-init', 'python3-cffi-backend', 'iproute2', 'ca-certificates', 'netbase'];
const KEY = `cloud-init-${SUITE}-v1`;

/**
 * A debootstrapped Debian root with Debian's cloud-init, built on first use under `cacheRoot()`
 * (minbase, a few minutes from deb.debian.org) and renamed into place whole, so concurrent runs
 * never see half of it. Tests must boot copies of it, never the root itself.
 */
export async function ensureCloudInitRoot(log: (line: string) => void = () => {}): Promise<string> {
  const dir = join(cacheRoot(), KEY);
  const root = join(dir, 'root');
  if (existsSync(join(dir, 'ready'))) return root;
  log(`debootstrapping ${SUITE} with cloud-init into ${dir}`);
  const work = join(cacheRoot(), `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(work, { recursive: true });
    await run('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, SUITE, join(work, 'root'), 'http://deb.debian.org/debian'], { timeoutMs: 1_800_000 });
    await writeFile(join(work, 'ready'), `${SUITE} ${PACKAGES.join(' ')}\n`);
    try {
      await rename(work, dir);
    } catch (err) {
      // Another run finished first; theirs is as good as ours.
      if (!existsSync(join(dir, 'ready'))) throw err;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return root;
}
