import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type Document, isMap, isSeq, parseDocument } from 'yaml';
import { EdgebootError, messageOf } from '../core/errors.js';

const INVENTORY_FILE = /\.(ya?ml|json)$/i;

/** The file discovered nodes are appended to: the inventory itself, or `discovered.yaml` in an inventory directory. */
export async function discoveredFile(inventory: string): Promise<string> {
  const st = await stat(inventory);
  return st.isDirectory() ? join(inventory, 'discovered.yaml') : inventory;
}

/** Write a file atomically: a temp file in the same directory, fsync, rename over, fsync the directory. */
export async function writeAtomic(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  let mode = 0o644;
  try {
    mode = (await stat(file)).mode & 0o777;
  } catch {
    // A new file gets the default mode.
  }
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw new EdgebootError('E_INVENTORY', `cannot write ${file}: ${messageOf(err)}`, { cause: err });
  }
  await fh.close();
  await rename(tmp, file);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

async function readDoc(file: string): Promise<Document> {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new EdgebootError('E_INVENTORY', `${file} does not parse: ${doc.errors[0]!.message.split('\n')[0]}`);
  if (doc.contents === null) doc.contents = doc.createNode({}) as never;
  return doc;
}

async function writeDoc(file: string, doc: Document): Promise<void> {
  // JSON files stay JSON; YAML files keep their comments and layout.
  const text = file.toLowerCase().endsWith('.json') ? `${JSON.stringify(doc.toJS(), null, 2)}\n` : doc.toString();
  await writeAtomic(file, text);
}

/** The current text of `file` ('' when missing), to put back if an edit turns out invalid. */
export async function snapshotText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Put back a file's earlier text (or remove a file that did not exist), atomically. */
export async function restoreText(file: string, text: string | undefined): Promise<void> {
  if (text === undefined) await rm(file, { force: true });
  else await writeAtomic(file, text);
}

/** Append one node mapping to `nodes:` of `file` (created when missing), atomically. */
export async function appendNode(file: string, node: Record<string, unknown>): Promise<void> {
  const doc = await readDoc(file);
  const nodes = doc.get('nodes');
  if (nodes === undefined || nodes === null) doc.set('nodes', doc.createNode([node]));
  else if (isSeq(nodes)) nodes.add(doc.createNode(node));
  else throw new EdgebootError('E_INVENTORY', `${file}: nodes must be a list`);
  await writeDoc(file, doc);
}

async function inventoryFiles(inventory: string): Promise<string[]> {
  const st = await stat(inventory);
  if (!st.isDirectory()) return [inventory];
  return (await readdir(inventory))
    .filter((f) => INVENTORY_FILE.test(f) && !f.startsWith('.'))
    .sort()
    .map((f) => join(inventory, f));
}

/**
 * Set `status` (and `status_reason`, removed when not given) of the node with `systemId`, in whichever
 * inventory file holds it. Returns the file edited and its earlier text; throws E_NOT_FOUND when no file holds the node.
 */
export async function setNodeStatus(
  inventory: string,
  systemId: string,
  status: string,
  reason?: string,
): Promise<{ file: string; before: string | undefined }> {
  for (const file of await inventoryFiles(inventory)) {
    const doc = await readDoc(file);
    const nodes = doc.get('nodes');
    if (!isSeq(nodes)) continue;
    for (const item of nodes.items) {
      if (!isMap(item) || String(item.get('system_id')) !== systemId) continue;
      item.set('status', status);
      if (reason) item.set('status_reason', reason);
      else item.delete('status_reason');
      const before = await snapshotText(file);
      await writeDoc(file, doc);
      return { file, before };
    }
  }
  throw new EdgebootError('E_NOT_FOUND', `no inventory file under ${inventory} holds node ${systemId}`);
}

/** An edit made to one inventory file, with its earlier text to put back if the result does not validate. */
export interface FileEdit {
  file: string;
  before: string | undefined;
}

/**
 * Replace each node (by `system_id`) in whichever inventory file holds it, or append it to the discovered
 * file when none does; each touched file is written once, atomically. Returns the edits made.
 */
export async function putNodesInFiles(inventory: string, nodes: Array<Record<string, unknown>>): Promise<FileEdit[]> {
  const pending = new Map(nodes.map((n) => [String(n.system_id), n]));
  const edits: FileEdit[] = [];
  for (const file of await inventoryFiles(inventory)) {
    if (pending.size === 0) break;
    const doc = await readDoc(file);
    const list = doc.get('nodes');
    if (!isSeq(list)) continue;
    let touched = false;
    list.items.forEach((item, i) => {
      const id = isMap(item) ? String(item.get('system_id')) : undefined;
      const node = id === undefined ? undefined : pending.get(id);
      if (!node) return;
      list.items[i] = doc.createNode(node) as never;
      pending.delete(id!);
      touched = true;
    });
    if (!touched) continue;
    edits.push({ file, before: await snapshotText(file) });
    await writeDoc(file, doc);
  }
  if (pending.size > 0) {
    const file = await discoveredFile(inventory);
    const before = edits.find((e) => e.file === file)?.before ?? (await snapshotText(file));
    const doc = await readDoc(file);
    const list = doc.get('nodes');
    if (list === undefined || list === null) doc.set('nodes', doc.createNode([...pending.values()]));
    else if (isSeq(list)) for (const n of pending.values()) list.add(doc.createNode(n));
    else throw new EdgebootError('E_INVENTORY', `${file}: nodes must be a list`);
    if (!edits.some((e) => e.file === file)) edits.push({ file, before });
    await writeDoc(file, doc);
  }
  return edits;
}

/** Remove the nodes with these system ids from whichever inventory files hold them; returns the edits made. */
export async function removeNodesFromFiles(inventory: string, systemIds: readonly string[]): Promise<FileEdit[]> {
  const gone = new Set(systemIds);
  const edits: FileEdit[] = [];
  for (const file of await inventoryFiles(inventory)) {
    const doc = await readDoc(file);
    const list = doc.get('nodes');
    if (!isSeq(list)) continue;
    const kept = list.items.filter((item) => !(isMap(item) && gone.has(String(item.get('system_id')))));
    if (kept.length === list.items.length) continue;
    edits.push({ file, before: await snapshotText(file) });
    list.items = kept;
    await writeDoc(file, doc);
  }
  return edits;
}
