import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostMirror, privateApt } from '../../../src/files/foreign-loaders.js';
import { cacheRoot } from './paths.js';
import { run } from './process.js';

/** Debian releases whose signed shim and GRUB the e2e tests boot (GRUB 2.06 and 2.12). */
export type SignedSuite = 'bookworm' | 'trixie';

/** One release's signed boot chain, unpacked from its `.deb`s. */
export interface SignedLoaders {
  suite: SignedSuite;
  /** `shim-signed` and `grub-efi-amd64-signed` versions, e.g. `1.51~1+deb13u1+16.1-2~deb13u1`. */
  versions: Record<string, string>;
  /** Loader directories to give edgeboot (`loader_dirs`): shim's and GRUB's install folders. */
  loaderDirs: string[];
  shim: string;
  grub: string;
  /** shim-unsigned's `shimx64.efi`, beside `shim`. */
  unsignedShim: string;
}

// shim-unsigned comes along as on a real install (shim-signed depends on it): its unsigned shimx64.efi lies
// beside the signed one, which is exactly what edgeboot must never serve as shimx64.efi.
const PACKAGES = ['shim-signed', 'shim-unsigned', 'grub-efi-amd64-signed'];
/** A cached entry younger than this is used without asking the archive again. */
const FRESH_MS = 7 * 24 * 3600 * 1000;

function entryFor(dir: string, suite: SignedSuite): SignedLoaders {
  const versions = JSON.parse(readFileSync(join(dir, 'ready'), 'utf8')) as Record<string, string>;
  const shimDir = join(dir, 'root/usr/lib/shim');
  const grubDir = join(dir, 'root/usr/lib/grub/x86_64-efi-signed');
  return {
    suite,
    versions,
    loaderDirs: [shimDir, grubDir],
    shim: join(shimDir, 'shimx64.efi.signed'),
    grub: join(grubDir, 'grubnetx64.efi.signed'),
    unsignedShim: join(shimDir, 'shimx64.efi'),
  };
}

/**
 * The signed shim and network GRUB of `suite`, downloaded with `apt-get download` through a private apt
 * configuration pointed at that release on this machine's Debian mirror and unpacked with `dpkg-deb -x`.
 * Cached under `cacheRoot()/signed-<suite>-<versions>`; built in a private folder and renamed into place.
 */
export async function ensureSignedLoaders(suite: SignedSuite, log: (line: string) => void = () => {}): Promise<SignedLoaders> {
  const root = cacheRoot();
  await mkdir(root, { recursive: true });
  const cached = (await readdir(root)).filter((n) => n.startsWith(`signed-${suite}-`) && existsSync(join(root, n, 'ready')));
  // An entry from an older package list lacks a package: it is rebuilt.
  const complete = (d: string) => PACKAGES.every((p) => p in (JSON.parse(readFileSync(join(d, 'ready'), 'utf8')) as Record<string, string>));
  const fresh = cached.map((n) => join(root, n)).find((d) => complete(d) && Date.now() - statSync(join(d, 'ready')).mtimeMs < FRESH_MS);
  if (fresh) return entryFor(fresh, suite);

  const work = join(root, `.signed-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(join(work, 'lists/partial'), { recursive: true });
    await mkdir(join(work, 'cache/archives/partial'), { recursive: true });
    await mkdir(join(work, 'debs'), { recursive: true });
    await mkdir(join(work, 'out/root'), { recursive: true });
    const mirror = hostMirror();
    await writeFile(join(work, 'sources.list'), `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} ${suite} main\n`);
    log(`fetching ${PACKAGES.join(', ')} of Debian ${suite} from ${mirror}`);
    await run('apt-get', [...privateApt(work, 'amd64'), '-q', 'update'], { timeoutMs: 300_000 });
    await run('apt-get', [...privateApt(work, 'amd64'), '-q', 'download', ...PACKAGES], { cwd: join(work, 'debs'), timeoutMs: 300_000 });
    const versions: Record<string, string> = {};
    for (const deb of await readdir(join(work, 'debs'))) {
      const [pkg, version] = deb.split('_');
      versions[pkg!] = decodeURIComponent(version!);
      await run('dpkg-deb', ['-x', join(work, 'debs', deb), join(work, 'out/root')]);
    }
    for (const p of PACKAGES) if (!versions[p]) throw new Error(`apt-get download left no ${p} .deb for ${suite}`);
    await writeFile(join(work, 'out/ready'), JSON.stringify(versions));
    const dir = join(root, `signed-${suite}-${PACKAGES.map((p) => versions[p]).join('-')}`.replace(/[^A-Za-z0-9.+~_-]/g, '_'));
    const entry = entryFor(join(work, 'out'), suite);
    for (const f of [entry.shim, entry.grub, entry.unsignedShim]) if (!existsSync(f)) throw new Error(`${suite}'s packages hold no ${f.slice(join(work, 'out/root').length)}`);
    if (existsSync(join(dir, 'ready'))) {
      // The same versions are cached already: mark them fresh again.
      await utimes(join(dir, 'ready'), new Date(), new Date());
      return entryFor(dir, suite);
    }
    try {
      await rename(join(work, 'out'), dir);
    } catch (err) {
      // Another run finished the same entry first; theirs is as good as ours.
      if (!existsSync(join(dir, 'ready'))) throw err;
    }
    return entryFor(dir, suite);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
