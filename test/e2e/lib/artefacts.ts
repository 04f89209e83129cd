import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GUEST_INIT, GUEST_MODULES, UDHCPC_SCRIPT } from './guest-init.js';
import { cacheRoot } from './paths.js';
import { run } from './process.js';

/**
 * A Linux kernel and a busybox initrd that fetches and prints its answer file. The kernel is Debian's
 * signed one (it boots under Secure Boot and without it alike); the initrd carries the e1000 driver
 * (iPXE ROM guests) and the virtio-net chain (OVMF's own network stack), loading whichever finds a NIC.
 */
export interface BootArtefacts {
  /** The kernel ABI name, e.g. `6.1.0-56-amd64`. */
  kernelAbi: string;
  /** The Debian package version the kernel came from. */
  packageVersion: string;
  kernel: string;
  initrd: string;
  /** The cache folder holding both. */
  dir: string;
  /** True when this call built them (false: taken from the cache). */
  built: boolean;
}

/** Which kernel `linux-image-amd64` points at, and the signed package that carries it. */
export async function currentKernel(): Promise<{ abi: string; pkg: string; version: string }> {
  const deps = await run('apt-cache', ['depends', 'linux-image-amd64']);
  const m = /Depends:\s+linux-image-(\S+?-amd64)\b/.exec(deps.stdout);
  if (!m) throw new Error(`cannot find the kernel ABI in \`apt-cache depends linux-image-amd64\`:\n${deps.stdout}`);
  const abi = m[1]!;
  const pkg = `linux-image-${abi}`;
  const show = await run('apt-cache', ['show', '--no-all-versions', pkg]);
  const v = /^Version:\s*(\S+)/m.exec(show.stdout);
  if (!v) throw new Error(`\`apt-cache show ${pkg}\` printed no Version (run apt-get update?)`);
  return { abi, pkg, version: v[1]! };
}

async function busyboxVersion(): Promise<string> {
  const r = await run('busybox', [], { allowFailure: true });
  return /BusyBox (v\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
}

/** Find one file by name under `dir`. */
async function findFile(dir: string, test: (name: string) => boolean): Promise<string | undefined> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && test(entry.name)) return join(entry.parentPath, entry.name);
  }
  return undefined;
}

/** Make a compressed module plain: busybox insmod loads plain modules only. */
async function decompressModule(file: string): Promise<string> {
  if (file.endsWith('.xz')) {
    await run('xz', ['-d', file]);
    return file.slice(0, -3);
  }
  if (file.endsWith('.zst')) {
    await run('zstd', ['-d', '-q', '--rm', file]);
    return file.slice(0, -4);
  }
  return file;
}

/**
 * Download the signed kernel package and take vmlinuz and the NIC modules out of it. A module the
 * kernel has built in (trixie's 6.12 builds virtio, virtio_ring and virtio_pci in) is listed in
 * `modules.builtin` instead and needs no file: /init's insmod of it fails quietly.
 */
async function extractKernel(work: string, pkg: string): Promise<{ vmlinuz: string; modules: Array<{ name: string; file: string }> }> {
  const dl = join(work, 'download');
  await mkdir(dl, { recursive: true });
  await run('apt-get', ['download', '-q', pkg], { cwd: dl, timeoutMs: 300_000 });
  const deb = await findFile(dl, (n) => n.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${dl}`);
  const root = join(work, 'pkg');
  await mkdir(root, { recursive: true });
  // tar fails on a pattern that matches nothing, so ask only for the modules the package holds.
  const listing = (await run('dpkg-deb', ['-c', deb])).stdout;
  const shipped = GUEST_MODULES.filter((m) => new RegExp(`/${m}\\.ko(\\.\\w+)?$`, 'm').test(listing));
  const patterns = [...shipped.map((m) => `*/${m}.ko*`), ...(/\/modules\.builtin$/m.test(listing) ? ['*/modules.builtin'] : [])];
  await run('sh', ['-c', 'd="$1"; r="$2"; shift 2; dpkg-deb --fsys-tarfile "$d" | tar -x -C "$r" --wildcards "./boot/vmlinuz-*" "$@"', 'sh', deb, root, ...patterns]);
  const vmlinuz = await findFile(join(root, 'boot'), (n) => n.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new Error(`${pkg} holds no vmlinuz`);
  const builtinFile = await findFile(root, (n) => n === 'modules.builtin');
  const builtin = builtinFile ? await readFile(builtinFile, 'utf8') : '';
  const modules: Array<{ name: string; file: string }> = [];
  for (const m of GUEST_MODULES) {
    const file = await findFile(root, (n) => n === `${m}.ko` || n.startsWith(`${m}.ko.`));
    if (file) modules.push({ name: m, file: await decompressModule(file) });
    else if (!new RegExp(`/${m}\\.ko$`, 'm').test(builtin)) throw new Error(`${pkg} holds no ${m}.ko and does not build it in`);
  }
  await rm(deb);
  return { vmlinuz, modules };
}

/** Pack /init, static busybox, the udhcpc script and the NIC modules into a gzipped newc cpio. */
async function packInitrd(work: string, modules: Array<{ name: string; file: string }>, out: string): Promise<void> {
  const root = join(work, 'initrd');
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'lib/modules']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await copyFile('/bin/busybox', join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  await writeFile(join(root, 'init'), GUEST_INIT, { mode: 0o755 });
  await writeFile(join(root, 'etc/udhcpc.script'), UDHCPC_SCRIPT, { mode: 0o755 });
  for (const m of modules) await copyFile(m.file, join(root, `lib/modules/${m.name}.ko`));
  // The kernel opens /dev/console for init before devtmpfs is mounted.
  await run('mknod', ['-m', '600', join(root, 'dev/console'), 'c', '5', '1'], { allowFailure: true });
  await run('sh', ['-c', 'find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9 > "$1"', 'sh', out], { cwd: root });
}

/**
 * Return the guest kernel and initrd, building them on first use. They are cached under
 * `cacheRoot()` keyed by kernel ABI, package version and a hash of the initrd's contents;
 * a build goes to a private folder first and is renamed into place, so concurrent runs never
 * see half a cache entry.
 */
export async function ensureBootArtefacts(log: (line: string) => void = () => {}): Promise<BootArtefacts> {
  const k = await currentKernel();
  const recipe = createHash('sha256')
    .update(GUEST_INIT)
    .update(GUEST_MODULES.join(' '))
    .update(UDHCPC_SCRIPT)
    .update(await busyboxVersion())
    .digest('hex')
    .slice(0, 12);
  const root = cacheRoot();
  const dir = join(root, `${k.abi}_${k.version}_${recipe}`);
  const result = { kernelAbi: k.abi, packageVersion: k.version, kernel: join(dir, 'kernel'), initrd: join(dir, 'initrd'), dir };
  if (existsSync(join(dir, 'ready'))) return { ...result, built: false };

  log(`building e2e guest artefacts for ${k.pkg} ${k.version} into ${dir}`);
  const work = join(root, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
  const stage = join(work, 'out');
  try {
    await mkdir(stage, { recursive: true });
    const { vmlinuz, modules } = await extractKernel(work, k.pkg);
    await copyFile(vmlinuz, join(stage, 'kernel'));
    await packInitrd(work, modules, join(stage, 'initrd'));
    await writeFile(join(stage, 'ready'), `${k.pkg} ${k.version}\n`);
    try {
      await rename(stage, dir);
    } catch (err) {
      // Another run finished the same entry first; theirs is as good as ours.
      if (!existsSync(join(dir, 'ready'))) throw err;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { ...result, built: true };
}

/** Where an image lives under boot_root, as edgeboot looks it up. */
export interface ImageSlot {
  os: string;
  release: string;
  arch?: string;
  subarch?: string;
  label?: string;
}

/** Copy the artefacts into `bootRoot/images/<os>/<arch>/<subarch>/<release>/<label>/{kernel,initrd}`. */
export async function stageImage(bootRoot: string, slot: ImageSlot, a: BootArtefacts): Promise<string> {
  const dir = join(bootRoot, 'images', slot.os, slot.arch ?? 'amd64', slot.subarch ?? 'generic', slot.release, slot.label ?? 'stable');
  await mkdir(dir, { recursive: true });
  // Copies, not symlinks: edgeboot confines boot_root and refuses links that leave it.
  await copyFile(a.kernel, join(dir, 'kernel'));
  await copyFile(a.initrd, join(dir, 'initrd'));
  return dir;
}
