import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EdgebootError, messageOf } from '../core/errors.js';

/**
 * Read the lease hook's shared secret, creating it (64 hex characters, mode 0640) when absent.
 * Group-readable on purpose: the DHCP server's group (e.g. _kea) must read it; others must not.
 */
export async function loadOrCreateLeaseSecret(path: string): Promise<string> {
  try {
    const st = await stat(path);
    if ((st.mode & 0o007) !== 0) {
      throw new EdgebootError('E_CONFIG', `the lease hook secret ${path} is readable by others; chmod 640 it`);
    }
    const secret = (await readFile(path, 'utf8')).trim();
    if (secret.length < 32) throw new EdgebootError('E_CONFIG', `the lease hook secret ${path} is shorter than 32 characters`);
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof EdgebootError) throw err;
      throw new EdgebootError('E_CONFIG', `the lease hook secret ${path} cannot be read: ${messageOf(err)}`, { cause: err });
    }
  }
  const secret = randomBytes(32).toString('hex');
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o750 });
    // 'wx' fails if another process created it meanwhile; then read theirs.
    const fh = await open(path, 'wx', 0o640);
    await fh.writeFile(`${secret}\n`);
    await fh.close();
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateLeaseSecret(path);
    throw new EdgebootError('E_CONFIG', `the lease hook secret ${path} cannot be created: ${messageOf(err)}`, { cause: err });
  }
}

/** Constant-time comparison of a presented secret with the expected one (hashing first equalises lengths). */
export function secretMatches(presented: unknown, expected: string): boolean {
  if (typeof presented !== 'string') return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
