import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/log.js';
import { loadRevisionState, revisionFilePath, saveRevisionState } from '../../../src/region-server/revision-file.js';
import { LogSink } from '../../support/appliance.js';

const dir = mkdtempSync(join(tmpdir(), 'edgeboot-revisions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the region revision state file', () => {
  it('round-trips, mode 0600, and is absent without a log line', () => {
    const sink = new LogSink();
    const log = createLogger('debug', sink);
    const path = revisionFilePath(join(dir, 'state'));
    expect(loadRevisionState(path, log)).toBeUndefined();
    expect(sink.entries()).toHaveLength(0);
    const state = { revision: 42, nodes: { a: 'x', b: 'y' }, config: 'c', selections: 's' };
    saveRevisionState(path, join(dir, 'state'), state);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadRevisionState(path, log)).toEqual(state);
  });

  it('a damaged file is refused in one line and the region starts a new history', () => {
    const sink = new LogSink();
    const path = join(dir, 'bad.json');
    writeFileSync(path, JSON.stringify({ format: 'edgeboot-region-revisions/1', revision: 'ten', nodes: {}, config: '', selections: '' }));
    expect(loadRevisionState(path, createLogger('debug', sink))).toBeUndefined();
    const lines = sink.entries().filter((e) => e.msg === 'the revision state cannot be used; starting a new revision history (racks re-list once)');
    expect(lines).toHaveLength(1);
    writeFileSync(path, '{not json');
    expect(loadRevisionState(path, createLogger('debug', sink))).toBeUndefined();
    expect(readFileSync(path, 'utf8')).toBe('{not json');
  });
});
