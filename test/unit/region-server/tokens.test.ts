import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RegionTokens } from '../../../src/region-server/tokens.js';

const dir = mkdtempSync(join(tmpdir(), 'edgeboot-tokens-'));
const file = join(dir, 'tokens.yaml');
const A = 'aaaaaaaaaaaaaaaa-token';
const B = 'bbbbbbbbbbbbbbbb-token';
const ADMIN = 'admin-admin-admin-token';
writeFileSync(file, `clusters:\n  rack-a: ${A}\n  rack-b: ${B}\nadmin: ${ADMIN}\n`);

describe('RegionTokens', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const t = new RegionTokens(file);

  it('accepts the cluster its own token', () => {
    expect(t.checkCluster('rack-a', `Bearer ${A}`)).toBe(200);
  });

  it('answers 401 without a token or with an unknown one', () => {
    expect(t.checkCluster('rack-a', undefined)).toBe(401);
    expect(t.checkCluster('rack-a', 'Bearer nope-nope-nope-nope')).toBe(401);
    expect(t.checkCluster('rack-a', `Basic ${A}`)).toBe(401);
  });

  it('answers 403 for another cluster token', () => {
    expect(t.checkCluster('rack-a', `Bearer ${B}`)).toBe(403);
  });

  it('answers 404 for a cluster it does not know', () => {
    expect(t.checkCluster('rack-z', `Bearer ${A}`)).toBe(404);
  });

  it('the admin token is admin; cluster tokens are not', () => {
    expect(t.isAdmin(`Bearer ${ADMIN}`)).toBe(true);
    expect(t.isAdmin(`Bearer ${A}`)).toBe(false);
  });

  it('refuses a file with a short token, without printing the token', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'clusters:\n  rack-a: short-secret\n');
    expect(() => new RegionTokens(bad)).toThrow(/rack-a must be 16\+ printable/);
    try {
      new RegionTokens(bad);
    } catch (err) {
      expect(String(err)).not.toContain('short-secret');
    }
  });
});
