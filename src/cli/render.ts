import { loadConfig } from '../config/config.js';
import { EdgebootError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { parseMac } from '../core/mac.js';
import { composeCore } from '../main.js';
import { addressFacing, listAddresses } from '../net/interfaces.js';
import { DEFAULT_CLUSTER_CONFIG } from '../core/node.js';
import { callbackFor } from '../render/callback.js';
import { isKind, KINDS } from '../render/kinds.js';

/** `edgeboot render`: what a machine with `--mac` would be served, optionally with the reasoning. */
export async function runRender(v: Record<string, unknown>, configPath: string): Promise<number> {
  const config = loadConfig(configPath);
  const log = createLogger('warn');
  if (typeof v.mac !== 'string') throw new EdgebootError('E_MAC', 'render needs --mac MAC');
  const kind = String(v.kind);
  if (!isKind(kind)) throw new EdgebootError('E_RENDER', `--kind must be one of ${KINDS.join(', ')}`);
  const mac = parseMac(v.mac);
  const core = await composeCore(config, log, { createKey: false });
  await core.inventory.reload({ throwOnError: true });
  const clientIp = String(v['client-ip']);
  const server =
    (v['server-address'] as string | undefined) ??
    (config.server_address !== 'auto' ? config.server_address : addressFacing(clientIp, listAddresses())) ??
    '127.0.0.1';
  const node = await core.inventory.lookup({ mac });
  if (v.explain) {
    const ex = core.renderer.explain({ kind, node, mac, server: { address: server, httpPort: config.http.port }, clientIp });
    const cb = callbackFor(core.store.snapshot()?.config ?? DEFAULT_CLUSTER_CONFIG, node?.systemId ?? '', Boolean(node?.token));
    const lines = [
      `mac:       ${mac}`,
      `node:      ${node ? `${node.hostname} (${node.systemId}), state ${node.status}` : 'unknown'}`,
      `purpose:   ${ex.decision.purpose}`,
      `why:       ${ex.decision.reason}`,
      `kind:      ${kind}`,
      'tried:',
      // Resolution stops at the chosen template, so when there is one it is the last name tried.
      ...ex.resolution.tried.map((t, i, all) => `  ${ex.resolution.chosen && i === all.length - 1 ? '*' : '-'} ${t.layer}/${kind}/${t.name}.eta`),
      `chosen:    ${ex.resolution.chosen?.origin ?? 'none'}`,
      `callback:  ${cb.ok ? `answer files call back to ${cb.metadataUrl}` : `left out of answer files: ${cb.why} (set ${cb.missing})`}`,
      '---',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  const out = core.renderer.render({
    kind,
    node,
    mac,
    buildarch: v.buildarch as string | undefined,
    server: { address: server, httpPort: config.http.port },
    clientIp,
  });
  process.stdout.write(out.text);
  return 0;
}
