import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EdgebootError, messageOf } from '../core/errors.js';

/**
 * Read the URL-signing key, creating it (32 random bytes, mode 0600) when absent.
 * A key readable by others is refused: anyone holding it can mint answer-file URLs.
 */
export async function loadOrCreateKey(path: string): Promise<Buffer> {
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) {
      throw new EdgebootError('E_CONFIG', `the URL-signing key ${path} is readable by group or others; chmod 600 it`);
    }
    const key = await readFile(path);
    if (key.length < 32) throw new EdgebootError('E_CONFIG', `the URL-signing key ${path} is shorter than 32 bytes`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof EdgebootError) throw err;
      throw new EdgebootError('E_CONFIG', `the URL-signing key ${path} cannot be read: ${messageOf(err)}`, { cause: err });
    }
  }
  const key = randomBytes(32);
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o750 });
    // 'wx' fails if another process created it meanwhile; then read theirs.
    const fh = await open(path, 'wx', 0o600);
    await fh.writeFile(key);
    await fh.sync();
    await fh.close();
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateKey(path);
    throw new EdgebootError('E_CONFIG', `the URL-signing key ${path} cannot be created: ${messageOf(err)}`, { cause: err });
  }
}
