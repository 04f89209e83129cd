import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS } from '../../../src/region-server/store/pg-migrations.js';
import { type PgCluster, startPgCluster } from '../../support/pg-cluster.js';

describe('PostgreSQL schema migrations (a private cluster on a unix socket)', () => {
  let cluster: PgCluster;
  let pool: pg.Pool;
  beforeAll(() => {
    cluster = startPgCluster();
    pool = new pg.Pool({ connectionString: cluster.url, max: 4 });
  }, 60_000);
  afterAll(async () => {
    await pool?.end();
    cluster?.cleanup();
  });

  it('the first run applies every step, a second run is a no-op, and the tables exist', async () => {
    expect(await migrate(pool)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await migrate(pool)).toEqual([]);
    const tables = (await pool.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.t);
    expect(tables).toEqual(['boot_events', 'changes', 'cluster_revision', 'cluster_settings', 'discoveries', 'edgeboot_schema', 'install_reports', 'node_macs', 'nodes']);
  });

  it('two replicas starting at once take turns: each step is applied exactly once', async () => {
    // A slow step, so that without the lock both replicas would see it missing and both run it.
    const extra = [...MIGRATIONS, { version: 1000, name: 'test step', sql: 'SELECT pg_sleep(0.5); CREATE TABLE probe_once (x int)' }];
    const other = new pg.Pool({ connectionString: cluster.url, max: 2 });
    try {
      const [a, b] = await Promise.all([migrate(pool, extra), migrate(other, extra)]);
      expect([...a, ...b]).toEqual([1000]);
    } finally {
      await other.end();
    }
  });

  it('a failing step is rolled back whole and named in the error; the schema stays usable', async () => {
    const broken = [...MIGRATIONS, { version: 1001, name: 'broken step', sql: 'CREATE TABLE half_done (x int); SELECT no_such_column FROM nodes' }];
    await expect(migrate(pool, broken)).rejects.toThrow(/schema step 1001 \(broken step\) failed and was rolled back/);
    const half = await pool.query("SELECT 1 FROM pg_tables WHERE tablename = 'half_done'");
    expect(half.rowCount).toBe(0);
    expect((await pool.query('SELECT max(version) AS v FROM edgeboot_schema')).rows[0].v).toBe(1000);
  });
});
