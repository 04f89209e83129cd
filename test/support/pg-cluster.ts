import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** A throwaway PostgreSQL cluster on a unix socket in a temp dir, run as the `postgres` user (initdb refuses root). */
export interface PgCluster {
  /** Connection string for node-postgres (host = the socket folder). */
  url: string;
  dir: string;
  stop(): void;
  start(): void;
  cleanup(): void;
}

const BIN = '/usr/lib/postgresql/15/bin';

function asPostgres(cmd: string, args: string[]): void {
  const r = spawnSync('runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
}

/** Create an empty database `name` in the cluster and give its connection string. */
export async function createDatabase(cluster: PgCluster, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return cluster.url.replace('/postgres?', `/${name}?`);
}

/** Make and start a private cluster (never the system service); the caller must cleanup(). */
export function startPgCluster(): PgCluster {
  const dir = mkdtempSync(join(tmpdir(), 'edgeboot-pg-'));
  chmodSync(dir, 0o755);
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const c: PgCluster = {
    url: `postgres://postgres@/postgres?host=${encodeURIComponent(dir)}`,
    dir,
    start: () => asPostgres('pg_ctl', ['-D', data, '-w', '-l', join(dir, 'log'), '-o', `-k ${dir} -c listen_addresses='' -c fsync=off`, 'start']),
    stop: () => asPostgres('pg_ctl', ['-D', data, '-w', '-m', 'fast', 'stop']),
    cleanup: () => {
      try {
        c.stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  c.start();
  return c;
}
