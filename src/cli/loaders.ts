import { EdgebootError } from '../core/errors.js';
import { FOREIGN_LOADER_ROOT, fetchForeignLoaders, hostMirror, hostSuite, httpBootNote } from '../files/foreign-loaders.js';

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** `edgeboot loaders fetch --arch ARCH`: install another architecture's signed loaders and list them. */
export async function runLoaders(v: Record<string, unknown>, positionals: string[]): Promise<number> {
  if (positionals[0] !== 'fetch' || positionals.length !== 1) {
    throw new EdgebootError('E_LOADERS', 'usage: edgeboot loaders fetch --arch arm64 [--dest DIR] [--suite SUITE] [--mirror URL]');
  }
  const arch = str(v.arch);
  if (!arch) throw new EdgebootError('E_LOADERS', '--arch is required (e.g. --arch arm64)');
  const fetched = await fetchForeignLoaders({
    arch,
    dest: str(v.dest) ?? FOREIGN_LOADER_ROOT,
    suite: str(v.suite) ?? hostSuite(),
    mirror: str(v.mirror) ?? hostMirror(),
    log: (line) => process.stderr.write(`edgeboot loaders: ${line}\n`),
  });
  for (const f of fetched) process.stdout.write(`installed ${f.file} (${f.size} bytes) from ${f.pkg} ${f.version}\n`);
  for (const f of fetched) {
    const note = httpBootNote(f.pkg, f.version);
    if (note) process.stdout.write(`note: ${note}\n`);
  }
  return 0;
}
