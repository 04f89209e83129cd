import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchForeignLoaders, hostMirror, hostSuite } from '../../../src/files/foreign-loaders.js';

// `edgeboot loaders fetch --arch arm64` really downloads Debian's signed arm64 loaders through apt on this amd64
// machine, and apt's signature verification is on: a tampered or unsigned index is refused and nothing installed.

const execFileAsync = promisify(execFile);
const cli = resolve(import.meta.dirname, '../../../dist/src/cli/edgeboot.js');
const work = mkdtempSync(join(tmpdir(), 'edgeboot-fetch-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A file:// mirror serving an impostor grub-efi-arm64-signed (a .deb whose "loader" is a text file) through a real
 * Packages index; `release(packagesLine)` makes the dists/<suite> index that points at it. Were signatures not
 * checked, a fetch from it would install the impostor.
 */
async function fakeMirror(name: string, suite: string, file: 'InRelease' | 'Release', release: (packagesLine: string) => string): Promise<string> {
  const root = join(work, name);
  const pkgDir = join(work, `${name}-pkg`);
  mkdirSync(join(pkgDir, 'DEBIAN'), { recursive: true });
  mkdirSync(join(pkgDir, 'usr/lib/grub/arm64-efi-signed'), { recursive: true });
  writeFileSync(join(pkgDir, 'usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed'), 'impostor\n');
  writeFileSync(join(pkgDir, 'DEBIAN/control'), 'Package: grub-efi-arm64-signed\nVersion: 99\nArchitecture: arm64\nMaintainer: x <x@example.org>\nDescription: impostor\n');
  mkdirSync(join(root, 'pool'), { recursive: true });
  const deb = join(root, 'pool/grub-efi-arm64-signed_99_arm64.deb');
  await execFileAsync('dpkg-deb', ['--build', '--root-owner-group', pkgDir, deb]);
  const debBytes = readFileSync(deb);
  const packages = `Package: grub-efi-arm64-signed\nVersion: 99\nArchitecture: arm64\nMaintainer: x <x@example.org>\nFilename: pool/grub-efi-arm64-signed_99_arm64.deb\nSize: ${debBytes.length}\nSHA256: ${sha256(debBytes)}\nDescription: impostor\n\n`;
  mkdirSync(join(root, 'dists', suite, 'main/binary-arm64'), { recursive: true });
  writeFileSync(join(root, 'dists', suite, 'main/binary-arm64/Packages'), packages);
  const line = ` ${sha256(Buffer.from(packages))} ${Buffer.byteLength(packages)} main/binary-arm64/Packages`;
  writeFileSync(join(root, 'dists', suite, file), release(line));
  return `file://${root}`;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The host's own signed InRelease for `suite` (left by the machine's apt-get update). */
function hostInRelease(suite: string): string {
  const dir = '/var/lib/apt/lists';
  const n = readdirSync(dir).find((f) => f.endsWith(`_dists_${suite}_InRelease`));
  if (!n) throw new Error(`no ${suite} InRelease in ${dir}: run apt-get update`);
  return readFileSync(join(dir, n), 'utf8');
}

describe('edgeboot loaders fetch --arch arm64', () => {
  it('downloads grub-efi-arm64-signed and shim-signed:arm64 through apt and installs only the loaders', async () => {
    const dest = join(work, 'ok');
    const { stdout } = await execFileAsync(process.execPath, [cli, 'loaders', 'fetch', '--arch', 'arm64', '--dest', dest], { timeout: 600_000 });
    expect(stdout).toMatch(/^installed .*\/arm64\/grubnetaa64\.efi\.signed \(\d+ bytes\) from grub-efi-arm64-signed \S+$/m);
    expect(stdout).toMatch(/^installed .*\/arm64\/shimaa64\.efi\.signed \(\d+ bytes\) from shim-signed \S+$/m);
    expect(readdirSync(join(dest, 'arm64')).sort()).toEqual(['grubnetaa64.efi.signed', 'shimaa64.efi.signed']);
    for (const f of ['grubnetaa64.efi.signed', 'shimaa64.efi.signed']) {
      const pe = readFileSync(join(dest, 'arm64', f));
      expect(pe.subarray(0, 2).toString('latin1')).toBe('MZ');
      // PE machine type 0xaa64 (ARM64): the arm64 build, not the host's amd64 one.
      const peOff = pe.readUInt32LE(0x3c);
      expect(pe.readUInt16LE(peOff + 4)).toBe(0xaa64);
    }
  }, 600_000);

  it('refuses a tampered InRelease (Debian-signed text edited to point at another index) and installs nothing', async () => {
    const suite = hostSuite();
    const real = hostInRelease(suite);
    // The attack: keep Debian's signature, swap the arm64 index hash for the impostor's (no by-hash, no other variants).
    const tamper = (line: string) =>
      real
        .split('\n')
        .filter((l) => !l.includes('main/binary-arm64/') && !l.startsWith('Acquire-By-Hash:'))
        .join('\n')
        .replace(/^SHA256:$/m, `SHA256:\n${line}`);
    const dest = join(work, 'tampered');
    const mirror = await fakeMirror('tampered', suite, 'InRelease', tamper);
    const err = await fetchForeignLoaders({ arch: 'arm64', dest, suite, mirror }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/signature|BADSIG|not signed/i);
    expect(existsSync(join(dest, 'arm64'))).toBe(false);
  }, 120_000);

  it('refuses an unsigned Release and installs nothing', async () => {
    const suite = hostSuite();
    const release = (line: string) => `Origin: Debian\nSuite: ${suite}\nCodename: ${suite}\nArchitectures: arm64\nComponents: main\nSHA256:\n${line}\n`;
    const dest = join(work, 'unsigned');
    const mirror = await fakeMirror('unsigned', suite, 'Release', release);
    const err = await fetchForeignLoaders({ arch: 'arm64', dest, suite, mirror }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/not signed/i);
    expect(existsSync(join(dest, 'arm64'))).toBe(false);
  }, 120_000);

  it('names the unknown architecture in one sentence', async () => {
    await expect(fetchForeignLoaders({ arch: 'mips', dest: work, suite: 'trixie', mirror: hostMirror() })).rejects.toThrow(/no loaders are known for architecture "mips"/);
  });
});
