import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostMirror, hostSuite, privateApt } from '../../../src/files/foreign-loaders.js';
import type { BootArtefacts } from './artefacts.js';
import { GUEST_INIT, GUEST_MODULES, UDHCPC_SCRIPT } from './guest-init.js';
import { cacheRoot } from './paths.js';
import { run } from './process.js';

async function findFile(dir: string, test: (name: string) => boolean): Promise<string | undefined> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && test(entry.name)) return join(entry.parentPath, entry.name);
  }
  return undefined;
}

/**
 * The arm64 guest kit: Debian's signed arm64 kernel (the package `linux-image-arm64` points at) and a busybox
 * initrd with arm64 `busybox-static` and the same /init as the amd64 kit, whose virtio-net modules it loads.
 * Downloaded through a private arm64 apt configuration (the host's dpkg architectures are not changed) from the host's
 * own release, cached under `cacheRoot()` by release, kernel version and recipe, built in a private folder and renamed into place.
 */
export async function ensureArm64Artefacts(log: (line: string) => void = () => {}): Promise<BootArtefacts> {
  const root = cacheRoot();
  await mkdir(root, { recursive: true });
  const recipe = createHash('sha256').update(GUEST_INIT).update(GUEST_MODULES.join(' ')).update(UDHCPC_SCRIPT).digest('hex').slice(0, 12);
  // The kit follows the host's release (a trixie root boots trixie's kernel), which names the cache folder.
  const suite = hostSuite();
  const prefix = `arm64-${suite}-`;
  const cached = (await readdir(root)).find((n) => n.startsWith(prefix) && n.endsWith(`_${recipe}`) && existsSync(join(root, n, 'ready')));
  if (cached) {
    const dir = join(root, cached);
    const [abi, version] = cached.slice(prefix.length).split('_');
    return { kernelAbi: abi!, packageVersion: version!, kernel: join(dir, 'kernel'), initrd: join(dir, 'initrd'), dir, built: false };
  }
  const work = join(root, `.arm64-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    for (const d of ['lists/partial', 'cache/archives/partial', 'debs', 'pkg', 'initrd']) await mkdir(join(work, d), { recursive: true });
    await writeFile(join(work, 'sources.list'), `deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${hostMirror()} ${suite} main\n`);
    const apt = privateApt(work, 'arm64');
    log(`building the arm64 guest kit from Debian ${suite}`);
    await run('apt-get', [...apt, '-q', 'update'], { timeoutMs: 300_000 });
    const deps = await run('apt-cache', [...apt, 'depends', 'linux-image-arm64']);
    const abi = /Depends:\s+linux-image-(\S+?-arm64)\b/.exec(deps.stdout)?.[1];
    if (!abi) throw new Error(`no kernel ABI in apt-cache depends linux-image-arm64:\n${deps.stdout}`);
    const pkg = `linux-image-${abi}`;
    await run('apt-get', [...apt, '-q', 'download', pkg, 'busybox-static'], { cwd: join(work, 'debs'), timeoutMs: 600_000 });
    const kdeb = await findFile(join(work, 'debs'), (n) => n.startsWith(`${pkg}_`));
    const bdeb = await findFile(join(work, 'debs'), (n) => n.startsWith('busybox-static_'));
    if (!kdeb || !bdeb) throw new Error('apt-get download left no kernel or busybox-static .deb');
    const version = decodeURIComponent(kdeb.split('/').pop()!.split('_')[1]!);
    const patterns = GUEST_MODULES.map((m) => `*/${m}.ko*`);
    // Some of the modules are built into the arm64 kernel: tar's missing-pattern complaints are not fatal.
    await run('sh', ['-c', 'd="$1"; r="$2"; shift 2; dpkg-deb --fsys-tarfile "$d" | tar -x -C "$r" --wildcards "./boot/vmlinuz-*" "$@" 2>/dev/null; true', 'sh', kdeb, join(work, 'pkg'), ...patterns]);
    await run('dpkg-deb', ['-x', bdeb, join(work, 'bb')]);
    const vmlinuz = await findFile(join(work, 'pkg/boot'), (n) => n.startsWith('vmlinuz-'));
    if (!vmlinuz) throw new Error(`${pkg} holds no vmlinuz`);
    const ir = join(work, 'initrd');
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'lib/modules']) await mkdir(join(ir, d), { recursive: true });
    // bookworm's busybox-static ships bin/busybox, trixie's (merged /usr) usr/bin/busybox.
    const busybox = ['bin/busybox', 'usr/bin/busybox'].map((p) => join(work, 'bb', p)).find((p) => existsSync(p));
    if (!busybox) throw new Error('busybox-static holds neither bin/busybox nor usr/bin/busybox');
    await copyFile(busybox, join(ir, 'bin/busybox'));
    await chmod(join(ir, 'bin/busybox'), 0o755);
    await writeFile(join(ir, 'init'), GUEST_INIT, { mode: 0o755 });
    await writeFile(join(ir, 'etc/udhcpc.script'), UDHCPC_SCRIPT, { mode: 0o755 });
    const found: string[] = [];
    for (const m of GUEST_MODULES) {
      let file = await findFile(join(work, 'pkg'), (n) => n === `${m}.ko` || n.startsWith(`${m}.ko.`));
      if (!file) continue;
      if (file.endsWith('.xz')) {
        await run('xz', ['-d', file]);
        file = file.slice(0, -3);
      }
      await copyFile(file, join(ir, `lib/modules/${m}.ko`));
      found.push(m);
    }
    log(`arm64 kit: ${pkg} ${version}; modules in the initrd: ${found.join(' ') || 'none (built in)'}`);
    await run('mknod', ['-m', '600', join(ir, 'dev/console'), 'c', '5', '1'], { allowFailure: true });
    const stage = join(work, 'out');
    await mkdir(stage);
    await copyFile(vmlinuz, join(stage, 'kernel'));
    await run('sh', ['-c', 'find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9 > "$1"', 'sh', join(stage, 'initrd')], { cwd: ir });
    await writeFile(join(stage, 'ready'), `${pkg} ${version}\n`);
    const dir = join(root, `${prefix}${abi}_${version}_${recipe}`.replace(/[^A-Za-z0-9.+~_-]/g, '_'));
    try {
      await rename(stage, dir);
    } catch (err) {
      if (!existsSync(join(dir, 'ready'))) throw err;
    }
    return { kernelAbi: abi, packageVersion: version, kernel: join(dir, 'kernel'), initrd: join(dir, 'initrd'), dir, built: true };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
