import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/log.js';
import { requestLine, requestLineLogger } from '../../../src/http/request-log.js';

function memoryLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: createLogger('info', sink), lines };
}

const facts = { peer: '10.0.0.5', path: '/ipxe/node/52-54-00-00-00-01', method: 'GET', status: 200, ms: 0.4, bytes: 1278, route: 'ipxe-node' };

describe('the request line', () => {
  it('carries the facts and the route fields, flat, with the root bindings', () => {
    const { log, lines } = memoryLogger();
    requestLineLogger(log.child({ part: 'http' })).info(requestLine({ ...facts }, { mac: '52:54:00:00:00:01', size: 12, gone: undefined }), 'request');
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ ...facts, mac: '52:54:00:00:00:01', size: 12, part: 'http', svc: 'edgeboot', msg: 'request' });
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('censors a top-level secret field and leaves out object-valued fields (no secret nested in a line)', () => {
    const { log, lines } = memoryLogger();
    const fields = { token: 'tk-secret', capability: 'cap-secret', detail: { token_secret: 'nested-secret' }, list: ['x'] };
    requestLineLogger(log).info(requestLine({ ...facts }, fields), 'request');
    expect(lines[0]).not.toMatch(/tk-secret|cap-secret|nested-secret/);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line.token).toBe('[redacted]');
    expect(line.capability).toBe('[redacted]');
    expect(line).not.toHaveProperty('detail');
    expect(line).not.toHaveProperty('list');
  });
});
