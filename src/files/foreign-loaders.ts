import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EdgebootError } from '../core/errors.js';

const exec = promisify(execFile);

/** Where `edgeboot loaders fetch` puts loaders of foreign architectures; it is one of the default loader_dirs. */
export const FOREIGN_LOADER_ROOT = '/var/lib/edgeboot/loaders';

/** The keyring Debian's archive is signed with (package debian-archive-keyring). */
export const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** One loader file a foreign architecture needs: the package that ships it and where inside the package. */
export interface ForeignLoader {
  pkg: string;
  /** Path inside the package's data tree. */
  path: string;
  /** Whether the loader set is useless without it (shim is optional: only Secure Boot needs it). */
  required: boolean;
}

/** The loaders fetched per architecture, keyed by Debian architecture name. */
export const FOREIGN_LOADERS: Readonly<Record<string, readonly ForeignLoader[]>> = {
  arm64: [
    { pkg: 'grub-efi-arm64-signed', path: 'usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed', required: true },
    { pkg: 'shim-signed', path: 'usr/lib/shim/shimaa64.efi.signed', required: false },
  ],
};

/**
 * A sentence for the operator when the fetched GRUB cannot boot by UEFI HTTP Boot: Debian's signed arm64 GRUB before
 * 2.12 (bookworm's 2.06) has no `http` module in its image, so under HTTP Boot (arch 19) it cannot read its config
 * from the boot URL and stops at the `grub>` prompt (PXE, arch 11, is unaffected). Undefined for other packages.
 */
export function httpBootNote(pkg: string, version: string): string | undefined {
  if (!/^grub-efi-[a-z0-9]+-signed$/.test(pkg)) return undefined;
  // The signed package's version is <signing revision>+<grub's Debian version>, e.g. 1+2.06+13+deb12u2.
  const m = /^\d+\+(\d+)\.(\d+)/.exec(version);
  if (!m) return undefined;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major > 2 || (major === 2 && minor >= 12)) return undefined;
  return `${pkg} ${version} (GRUB ${major}.${String(minor).padStart(2, '0')}) has no http module: it boots by PXE, but UEFI HTTP Boot clients stop at the grub> prompt; fetch with --suite trixie (GRUB 2.12) for HTTP Boot.`;
}

/** What a fetch installed. */
export interface FetchedLoader {
  file: string;
  pkg: string;
  version: string;
  size: number;
}

/** Options of a fetch; defaults are the host's own Debian release and mirror. */
export interface FetchOptions {
  arch: string;
  dest: string;
  suite: string;
  mirror: string;
  keyring?: string;
  /** Progress lines for the operator. */
  log?: (line: string) => void;
}

/** apt's source files on this host: sources.list, then every file of sources.list.d. */
function hostSourceFiles(): string[] {
  const files = ['/etc/apt/sources.list'];
  try {
    for (const f of readdirSync('/etc/apt/sources.list.d').sort()) files.push(join('/etc/apt/sources.list.d', f));
  } catch {
    // No sources.list.d: the main file alone.
  }
  return files;
}

/** The Debian archive this machine's apt uses (first `…/debian` URI in its sources), else deb.debian.org. */
export function hostMirror(files?: string[]): string {
  const list = files ?? hostSourceFiles();
  for (const f of list) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    const m = /^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+\/debian)\/?(?:\s|$)/m.exec(text);
    if (m) return m[1]!;
  }
  return 'http://deb.debian.org/debian';
}

/** The host's Debian codename from os-release (the appliance's loaders match its own release). */
export function hostSuite(osRelease = '/etc/os-release'): string {
  try {
    const m = /^VERSION_CODENAME=["']?([a-z]+)/m.exec(readFileSync(osRelease, 'utf8'));
    if (m) return m[1]!;
  } catch {
    // No os-release: fall through to the appliance's target release.
  }
  return 'trixie';
}

/**
 * apt options for a private state: the host's sources, lists, cache, status and dpkg architectures are never
 * touched, and apt's signature checks stay at their defaults (unsigned or badly signed indexes are refused).
 */
export function privateApt(dir: string, arch: string): string[] {
  return [
    '-o', `Dir::Etc::SourceList=${join(dir, 'sources.list')}`,
    '-o', 'Dir::Etc::SourceParts=/dev/null',
    '-o', `Dir::State::Lists=${join(dir, 'lists')}`,
    '-o', `Dir::Cache=${join(dir, 'cache')}`,
    '-o', 'Dir::State::status=/dev/null',
    '-o', `APT::Architecture=${arch}`,
    '-o', `APT::Architectures=${arch}`,
    '-o', 'Acquire::Languages=none',
    '-o', 'Debug::NoLocking=1',
    '-o', 'APT::Sandbox::User=root',
    '-o', 'Acquire::AllowInsecureRepositories=false',
    '-o', 'Acquire::AllowDowngradeToInsecureRepositories=false',
  ];
}

async function tool(cmd: string, args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { cwd, maxBuffer: 16 * 1024 * 1024, timeout: 600_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const lines = (e.stderr ?? e.message).split('\n').filter((l) => /^(E|W): /.test(l) || /error/i.test(l));
    throw new EdgebootError('E_LOADERS', `${cmd} ${args.filter((a) => !a.startsWith('-') && !a.includes('::')).slice(0, 3).join(' ')} failed: ${(lines.join(' ') || e.message).slice(0, 600)}`);
  }
}

/**
 * Download the signed loaders of `arch` through apt (the `.deb`s are verified against the archive's signed
 * indexes), unpack only the loader files into `dest/<arch>` and return what was installed.
 */
export async function fetchForeignLoaders(opts: FetchOptions): Promise<FetchedLoader[]> {
  const wanted = FOREIGN_LOADERS[opts.arch];
  if (!wanted) throw new EdgebootError('E_LOADERS', `no loaders are known for architecture "${opts.arch}" (known: ${Object.keys(FOREIGN_LOADERS).join(', ')})`);
  if (!/^[a-z][a-z0-9-]*$/.test(opts.suite)) throw new EdgebootError('E_LOADERS', `"${opts.suite}" is not a Debian suite name`);
  if (!/^(https?|file):\/\/\S+$/.test(opts.mirror)) throw new EdgebootError('E_LOADERS', `"${opts.mirror}" is not an http(s) or file URL of a Debian mirror`);
  const keyring = opts.keyring ?? DEBIAN_KEYRING;
  const log = opts.log ?? (() => {});
  const work = await mkdtemp(join(tmpdir(), 'edgeboot-loaders-'));
  try {
    for (const d of ['lists/partial', 'cache/archives/partial', 'debs', 'root']) await mkdir(join(work, d), { recursive: true });
    await writeFile(join(work, 'sources.list'), `deb [arch=${opts.arch} signed-by=${keyring}] ${opts.mirror} ${opts.suite} main\n`);
    const apt = privateApt(work, opts.arch);
    log(`apt-get update: ${opts.mirror} ${opts.suite} main [${opts.arch}], signatures checked against ${keyring}`);
    const update = await tool('apt-get', [...apt, '-q', 'update'], work);
    // apt-get update exits 0 on some index failures (it warns and keeps old lists): a missing index is a refusal.
    const lists = await readdir(join(work, 'lists'));
    if (!lists.some((n) => n.endsWith('_Packages') || n.includes(`binary-${opts.arch}_Packages`))) {
      throw new EdgebootError('E_LOADERS', `apt accepted no package index from ${opts.mirror} ${opts.suite}: ${update.split('\n').filter((l) => /^(E|W|Err):?/.test(l)).join(' ') || 'nothing downloaded'}`);
    }
    const pkgs = [...new Set(wanted.map((w) => w.pkg))];
    log(`apt-get download ${pkgs.join(' ')}`);
    await tool('apt-get', [...apt, '-q', 'download', ...pkgs], join(work, 'debs'));
    const versions: Record<string, string> = {};
    for (const deb of await readdir(join(work, 'debs'))) {
      const [pkg, version] = deb.split('_');
      versions[pkg!] = decodeURIComponent(version!);
      await tool('dpkg-deb', ['-x', join(work, 'debs', deb), join(work, 'root')]);
    }
    const target = join(opts.dest, opts.arch);
    await mkdir(target, { recursive: true });
    const out: FetchedLoader[] = [];
    for (const w of wanted) {
      const src = join(work, 'root', w.path);
      const name = w.path.split('/').pop()!;
      let size: number;
      try {
        size = (await stat(src)).size;
      } catch {
        if (w.required) throw new EdgebootError('E_LOADERS', `${w.pkg} ${versions[w.pkg] ?? ''} holds no ${w.path}`);
        log(`${w.pkg} holds no ${name}; skipped`);
        continue;
      }
      // Copy then rename: a server reading the directory never sees half a loader.
      const tmp = join(target, `.${name}.${process.pid}`);
      await copyFile(src, tmp);
      await rename(tmp, join(target, name));
      out.push({ file: join(target, name), pkg: w.pkg, version: versions[w.pkg]!, size });
    }
    return out;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
