import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgebootError } from '../../core/errors.js';
import { fsyncDir } from './image-download.js';

/** What a verified file looked like, so the next sync need not hash it again. */
export interface FileRecord {
  sha256: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

/** The image sync's own bookkeeping: verified files and the image directories it manages (and may remove). */
export class ImageState {
  constructor(
    readonly file: string,
    /** Verified files by path relative to boot_root. */
    public files: Record<string, FileRecord>,
    /** Managed image directories, `os/arch/subarch/release/label`. */
    public dirs: string[],
  ) {}

  /** Load the state; a missing or unreadable file is an empty state (everything gets verified again). */
  static async load(staging: string): Promise<ImageState> {
    const file = join(staging, 'state.json');
    try {
      const doc = JSON.parse(await readFile(file, 'utf8')) as { files?: Record<string, FileRecord>; dirs?: string[] };
      return new ImageState(file, typeof doc.files === 'object' && doc.files ? doc.files : {}, Array.isArray(doc.dirs) ? doc.dirs.filter((d) => typeof d === 'string') : []);
    } catch {
      return new ImageState(file, {}, []);
    }
  }

  /** Drop the records of files under a removed directory. */
  forgetUnder(prefix: string): void {
    for (const k of Object.keys(this.files)) if (k.startsWith(prefix)) delete this.files[k];
  }

  /** Write atomically (temp + fsync + rename) with `dirs` as the managed set. */
  async save(dirs: string[]): Promise<void> {
    this.dirs = [...new Set(dirs)].sort();
    const tmp = `${this.file}.tmp-${process.pid}`;
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(JSON.stringify({ version: 1, files: this.files, dirs: this.dirs }, null, 1));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.file);
    await fsyncDir(join(this.file, '..'));
  }
}

const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/** Take the boot_root image lock (one sync at a time across processes); a lock left by a dead process is taken over. */
export async function lockImages(staging: string): Promise<() => Promise<void>> {
  const file = join(staging, 'lock');
  if (held.has(file)) throw new EdgebootError('E_BUSY', 'an image sync is already running in this process');
  for (let tries = 0; tries < 2; tries++) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' });
      held.add(file);
      return async () => {
        held.delete(file);
        await rm(file, { force: true });
      };
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new EdgebootError('E_BUSY', `another image sync (pid ${pid}) is running on this boot_root`);
      }
      await rm(file, { force: true });
    }
  }
  throw new EdgebootError('E_BUSY', 'the image sync lock cannot be taken');
}
