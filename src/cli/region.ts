import { EdgebootError, messageOf } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { PgStore, RegionServer } from '../region-server/index.js';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Parse `host:port`, `[v6]:port`, `:port` or `port` (host defaults to 0.0.0.0). */
export function parseListen(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*))?:?(\d{1,5})$/.exec(addr.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new EdgebootError('E_CONFIG', `--listen "${addr}" must be HOST:PORT, [IPv6]:PORT or PORT`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** `edgeboot region`: run the reference region until SIGTERM; SIGHUP re-reads tokens and inventory. */
export async function runRegion(v: Record<string, unknown>): Promise<number> {
  const database = v.database as string | undefined;
  if (database !== undefined && !/^postgres(ql)?:\/\//.test(database)) throw new EdgebootError('E_CONFIG', '--database must be a postgres:// connection string');
  if (typeof v.inventory !== 'string' && !database) {
    throw new EdgebootError('E_CONFIG', 'region needs --inventory PATH (a YAML/JSON file or a directory of them) or --database postgres://…');
  }
  if (database && v['state-dir'] !== undefined) {
    throw new EdgebootError('E_CONFIG', '--state-dir is for the file-backed store; with --database the revision history lives in PostgreSQL');
  }
  const keepText = String(v['keep-revisions'] ?? '10000');
  if (!/^\d{1,9}$/.test(keepText) || Number(keepText) < 1) throw new EdgebootError('E_CONFIG', '--keep-revisions must be a whole number of at least 1');
  if (typeof v.tokens !== 'string') throw new EdgebootError('E_CONFIG', 'region needs --tokens FILE (clusters: { <cluster_id>: <token> })');
  const cert = v['tls-cert'] as string | undefined;
  const key = v['tls-key'] as string | undefined;
  if (Boolean(cert) !== Boolean(key)) throw new EdgebootError('E_CONFIG', '--tls-cert and --tls-key go together');
  const level = String(v['log-level']);
  if (!LEVELS.includes(level)) throw new EdgebootError('E_CONFIG', `--log-level must be one of ${LEVELS.join(', ')}`);
  const { host, port } = parseListen(String(v.listen));
  const log = createLogger(level);
  const inventory = v.inventory as string | undefined;
  const store = database ? new PgStore({ url: database, inventory, log, keepRevisions: Number(keepText) }) : undefined;
  const region = new RegionServer(
    {
      inventory,
      tokensFile: v.tokens as string,
      resources: v.resources as string | undefined,
      stateDir: v['state-dir'] as string | undefined,
      host,
      port,
      tls: cert && key ? { certFile: cert, keyFile: key } : undefined,
      log,
    },
    store,
  );
  await region.start();
  process.on('SIGHUP', () => {
    region.reload().then(
      () => log.info('region reloaded tokens and inventory'),
      (err) => log.error({ err: messageOf(err) }, 'region reload failed; keeping the previous tokens and inventory'),
    );
  });
  const stop = (signal: string) => {
    log.info({ signal }, 'region stopping');
    region.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return -1;
}
