import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAppliance, type TestAppliance } from '../../support/appliance.js';

// The request log line of the fast path names the bytes it sent: what operators (and the e2e tests) read to
// see that a kernel or a script really went out.

let t: TestAppliance;

beforeAll(async () => {
  t = await startTestAppliance({ nodes: [] });
  writeFileSync(join(t.bootRoot, 'kernel.bin'), Buffer.alloc(300_000, 7));
});

afterAll(async () => {
  await t?.stop();
});

const lineFor = (route: string) => t.log.entries().find((e) => e.msg === 'request' && e.route === route);

describe('request log lines on the fast path', () => {
  it('a boot file line carries its length, a range its part', async () => {
    expect((await fetch(`${t.base}/kernel.bin`)).status).toBe(200);
    expect(lineFor('file')?.bytes).toBe(300_000);
    const part = await fetch(`${t.base}/kernel.bin`, { headers: { range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    await part.arrayBuffer();
    expect(t.log.entries().filter((e) => e.msg === 'request' && e.route === 'file').at(-1)?.bytes).toBe(100);
  });

  it('a script line carries the script length', async () => {
    const res = await fetch(`${t.base}/boot.ipxe`);
    const body = await res.text();
    expect(lineFor('boot.ipxe')?.bytes).toBe(Buffer.byteLength(body));
  });
});
