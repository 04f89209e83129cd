import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildAppliance, startChildAppliance } from '../../support/drill.js';

// `edgeboot serve` writes its log asynchronously through a bounded buffer (core/log.ts STDOUT_BUFFER). Here
// stdout is not read during a burst of requests (a stalled journald), so the pipe fills and the lines wait in
// that buffer; a SIGTERM then must still leave one request line per answered request on stdout.
const inventory = {
  nodes: [{ system_id: 's1', hostname: 'alpha', macs: ['52:54:00:cc:10:01'], arch: 'amd64/generic', status: 'rescue', osystem: 'ubuntu', release: 'noble' }],
};
const REQUESTS = 2000;
const PARALLEL = 16;

describe('request lines survive a SIGTERM (buffered stdout is flushed at exit)', () => {
  let eb: ChildAppliance;
  let answered = 0;
  let exit: { code: number | null; signal: NodeJS.Signals | null };
  beforeAll(async () => {
    eb = await startChildAppliance(inventory, () => undefined);
    const url = `${eb.base}/ipxe/node/52-54-00-cc-10-01`;
    eb.child.stdout!.pause();
    let next = 0;
    const worker = async () => {
      while (next < REQUESTS) {
        next++;
        const res = await fetch(url);
        await res.text();
        if (res.status === 200) answered++;
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const closed = once(eb.child, 'close');
    eb.child.kill('SIGTERM');
    eb.child.stdout!.resume();
    const [code, signal] = (await closed) as [number | null, NodeJS.Signals | null];
    exit = { code, signal };
  }, 120_000);
  afterAll(async () => {
    await eb?.stop();
  });

  it('edgeboot answered every request and exited cleanly on SIGTERM', () => {
    expect(answered).toBe(REQUESTS);
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('stdout holds one request line per request, and the stop line', () => {
    const lines = eb.logText().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const requestLines = lines.filter((l) => l.msg === 'request' && l.route === 'ipxe-node' && l.status === 200);
    expect(requestLines.length).toBe(REQUESTS);
    expect(lines.some((l) => l.signal === 'SIGTERM')).toBe(true);
  });
});
