import { existsSync } from 'node:fs';
import { loadConfig } from '../config/config.js';
import { messageOf } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { describeLoader } from '../files/boot-files.js';
import { composeCore } from '../main.js';
import { callbackFor } from '../render/callback.js';
import { KINDS, PURPOSES } from '../render/kinds.js';

const REQUIRED_LOADERS = ['undionly.kpxe', 'snponly.efi'];
const OPTIONAL_LOADERS = ['ipxe.efi', 'pxelinux.0', 'ldlinux.c32', 'shimx64.efi', 'bootx64.efi', 'mmx64.efi', 'grubx64.efi'];
/** arm64 loaders: on an amd64 appliance only `edgeboot loaders fetch --arch arm64` installs them. */
const ARM64_LOADERS = ['grubaa64.efi', 'shimaa64.efi'];
const IPXE_PURPOSES = PURPOSES;

/** `edgeboot check`: report every problem with config, templates, inventory and loaders; 1 if any. */
export async function runCheck(configPath: string): Promise<number> {
  const problems: string[] = [];
  const notes: string[] = [];
  const config = loadConfig(configPath); // throws with every path listed
  notes.push(`config ${config.configPath}: ok`);
  const log = createLogger('silent');
  const core = await composeCore(config, log, { createKey: false });
  for (const e of core.templates.errors()) problems.push(e);
  for (const purpose of IPXE_PURPOSES) {
    const r = core.templates.resolve('ipxe', [purpose, 'generic']);
    if (!r.chosen) problems.push(`no ipxe template serves purpose ${purpose}`);
  }
  notes.push(`templates: ${core.templates.size} compiled from ${core.templates.layers.join(', ')} (kinds: ${KINDS.join(', ')})`);
  try {
    await core.inventory.reload({ throwOnError: true });
    notes.push(`inventory ${config.inventory}: ${core.store.status().nodes} nodes`);
    const snapshot = core.store.snapshot();
    if (snapshot) {
      const withToken = snapshot.nodes.filter((n) => n.token);
      const cb = callbackFor(snapshot.config, 'x', true);
      if (cb.ok) notes.push(`installer callbacks go to ${cb.metadataUrl}`);
      else if (withToken.length) {
        problems.push(`${cb.why}: ${withToken.length} node(s) with tokens would get answer files without the install signal or reporting (set ${cb.missing} to the region's absolute metadata URL)`);
      } else notes.push(`${cb.why} (no node has a token yet, so no answer file would carry a callback)`);
      const bare = snapshot.nodes.filter((n) => !n.token && n.status === 'deploying').map((n) => n.hostname);
      if (bare.length) notes.push(`deploying without a token (nodes[].token), so their installs cannot signal the region: ${bare.slice(0, 10).join(', ')}${bare.length > 10 ? ', …' : ''}`);
    }
  } catch (err) {
    problems.push(messageOf(err));
  }
  if (!existsSync(config.boot_root)) notes.push(`boot_root ${config.boot_root} does not exist yet (no images synced)`);
  for (const name of [...REQUIRED_LOADERS, ...OPTIONAL_LOADERS]) {
    const r = await describeLoader(name, { root: config.boot_root, loaderDirs: config.loader_dirs });
    // Say which file answers the name, and which same-named unsigned files never do.
    const ignored = r.ignored.length ? ` (not served: ${r.ignored.join(', ')})` : '';
    if (r.path) notes.push(`loader ${name}: ${r.path}${ignored}`);
    else if (REQUIRED_LOADERS.includes(name)) problems.push(`loader ${name} not found (install Debian's ipxe package)`);
    else notes.push(`loader ${name}: not installed (optional): ${r.note}${ignored}`);
  }
  for (const name of ARM64_LOADERS) {
    const r = await describeLoader(name, { root: config.boot_root, loaderDirs: config.loader_dirs });
    if (r.path) notes.push(`loader ${name}: ${r.path}`);
    else {
      const who = name.startsWith('shim') ? 'with dhcp.secure_boot, arm64 clients' : 'arm64 clients';
      notes.push(`loader ${name}: not installed: ${who} (architectures 11 and 19) get no boot file; run "edgeboot loaders fetch --arch arm64"`);
    }
  }
  for (const n of notes) process.stdout.write(`ok    ${n}\n`);
  for (const p of problems) process.stdout.write(`FAIL  ${p}\n`);
  process.stdout.write(problems.length ? `${problems.length} problem(s) found\n` : 'all checks passed\n');
  return problems.length ? 1 : 0;
}
