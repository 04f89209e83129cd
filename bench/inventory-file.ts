import { createWriteStream, renameSync } from 'node:fs';

/**
 * Write an N-node inventory as JSON (`{config, boot_selections, nodes}`), streamed so 100,000 nodes never sit
 * in memory as one string, and renamed into place so a watching region never reads half a file.
 */
export async function writeInventoryFile(file: string, n: number, nodeOf: (i: number) => Record<string, unknown>): Promise<void> {
  const out = createWriteStream(`${file}.tmp`);
  const write = (s: string) => new Promise<void>((r) => (out.write(s) ? r() : out.once('drain', () => r())));
  await write('{"config":{"commissioning_release":"noble"},"boot_selections":[],"nodes":[\n');
  for (let i = 0; i < n; i++) await write(`${i ? ',' : ''}${JSON.stringify(nodeOf(i))}\n`);
  await write(']}\n');
  await new Promise<void>((r) => out.end(r));
  renameSync(`${file}.tmp`, file);
}
