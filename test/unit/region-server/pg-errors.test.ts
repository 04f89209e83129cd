import { describe, expect, it } from 'vitest';
import { connectionProblem, describeTarget, sqlProblem } from '../../../src/region-server/store/pg-errors.js';

describe('PostgreSQL failures as an operator reads them', () => {
  it('names where a connection string points without user or password', () => {
    expect(describeTarget('postgres://edgeboot:s3cret-pass@db.example:5433/region')).toBe('db.example:5433/region');
    expect(describeTarget('postgresql://u:pw@/region?host=%2Frun%2Fpostgresql')).toBe('/run/postgresql/region');
    expect(describeTarget('postgres://db.example')).toBe('db.example/(default)');
    expect(describeTarget('mysql://x')).toBe('(unparsable database URL)');
    expect(describeTarget('postgres://edgeboot:s3cret-pass@db.example:5433/region')).not.toContain('s3cret');
  });

  it('tells a database that cannot be reached from a query that is wrong', () => {
    expect(connectionProblem(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe('connect ECONNREFUSED 127.0.0.1:5432');
    expect(connectionProblem(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toMatch(/administrator/);
    expect(connectionProblem(new Error('Connection terminated unexpectedly'))).toBe('Connection terminated unexpectedly');
    expect(connectionProblem(Object.assign(new Error('the database system is starting up'), { code: '57P03' }))).toMatch(/starting up/);
    expect(connectionProblem(Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601' }))).toBeUndefined();
    expect(connectionProblem(undefined)).toBeUndefined();
  });

  it('turns a unique violation into a sentence naming the value', () => {
    expect(sqlProblem({ code: '23505', constraint: 'node_macs_pkey', detail: 'Key (mac)=(52:54:00:00:00:01) already exists.' })).toBe('MAC 52:54:00:00:00:01 already belongs to another node');
    expect(sqlProblem({ code: '23505', constraint: 'nodes_uuid', detail: "Key ((body ->> 'uuid'::text))=(4c4c4544-0042-3510-8056-b4c04f395231) already exists." })).toBe(
      'UUID 4c4c4544-0042-3510-8056-b4c04f395231 already belongs to another node',
    );
    expect(sqlProblem({ code: '42601' })).toBeUndefined();
  });
});
