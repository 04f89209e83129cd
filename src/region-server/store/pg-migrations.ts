import type { Pool, PoolClient } from 'pg';

// The PostgreSQL schema of the region, as numbered steps shipped in the package. Each step runs once, in
// its own transaction, and is recorded in edgeboot_schema; an advisory lock makes concurrent starts of two
// replicas take turns, so "applied on start" is safe with any number of region processes.

/** One schema step: its number (never reused or reordered) and its SQL. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The region's schema, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'clusters, nodes, change log',
    sql: `
      CREATE TABLE cluster_revision (cluster text PRIMARY KEY, revision bigint NOT NULL, floor bigint NOT NULL);
      CREATE TABLE nodes (system_id text PRIMARY KEY, body jsonb NOT NULL, revision bigint NOT NULL);
      CREATE TABLE node_macs (mac text PRIMARY KEY, system_id text NOT NULL REFERENCES nodes ON DELETE CASCADE);
      CREATE TABLE cluster_settings (name text PRIMARY KEY, body jsonb NOT NULL, revision bigint NOT NULL);
      CREATE TABLE changes (revision bigint PRIMARY KEY, system_ids text[] NOT NULL, removed text[] NOT NULL, settings boolean NOT NULL DEFAULT false);
    `,
  },
  {
    version: 2,
    name: 'discoveries and boot events with idempotency keys',
    sql: `
      CREATE TABLE discoveries (mac text PRIMARY KEY, cluster text NOT NULL, system_id text NOT NULL, body jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE boot_events (seq bigserial PRIMARY KEY, cluster text NOT NULL, event_id text, body jsonb NOT NULL);
      CREATE UNIQUE INDEX boot_events_idempotent ON boot_events (cluster, event_id) WHERE event_id IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'node lookups, install reports',
    sql: `
      CREATE INDEX nodes_hostname ON nodes ((body->>'hostname'));
      CREATE INDEX nodes_token_key ON nodes ((body->'token'->>'token_key'));
      CREATE UNIQUE INDEX nodes_uuid ON nodes ((body->>'uuid')) WHERE body ? 'uuid';
      CREATE TABLE install_reports (seq bigserial PRIMARY KEY, system_id text NOT NULL, body jsonb NOT NULL);
    `,
  },
];

const LOCK_KEY = 0x65646762; // "edgb": one advisory lock for the region's schema changes

/** Apply every step not yet recorded; returns the versions applied now (empty when the schema is current). */
export async function migrate(pool: Pool, steps: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const client: PoolClient = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query('CREATE TABLE IF NOT EXISTS edgeboot_schema (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM edgeboot_schema')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const step of steps) {
      if (done.has(step.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(step.sql);
        await client.query('INSERT INTO edgeboot_schema (version, name) VALUES ($1, $2)', [step.version, step.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`schema step ${step.version} (${step.name}) failed and was rolled back: ${(err as Error).message}`, { cause: err });
      }
      applied.push(step.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}
