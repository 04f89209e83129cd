import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseNodeScript } from '../../support/storm-machine.js';
import { machinesFor } from '../../support/storm-run.js';
import { getFrom, startTestAppliance, type TestAppliance } from '../../support/appliance.js';
import { capabilitiesIn, deployingNodes, leakedSecrets, secretsIn, tokenFor } from '../../support/drill.js';

// Even machines install ubuntu (user-data, meta-data), odd ones debian (preseed).
const machines = machinesFor(12, '127.90');
const nodes = deployingNodes(machines).map((n, i) => (i % 2 === 0 ? n : { ...n, osystem: 'debian', release: 'bookworm' }));
const second = (ip: string) => ip.replace(/^127\.90\./, '127.91.');

interface Issued {
  mac: string;
  ip: string;
  urls: string[];
}

describe('security: signed answer-file URLs', () => {
  let t: TestAppliance;
  const issued: Issued[] = [];

  beforeAll(async () => {
    // The answer files carry a token only with an absolute metadata_url to use it with.
    t = await startTestAppliance({ nodes, config: { metadata_url: 'http://region.test:5240/MAAS/metadata/' } }, { answers: { ttl_seconds: 60 } });
    for (const m of machines) {
      const res = await getFrom(`${t.base}/ipxe/node/${m.mac.replace(/:/g, '-')}`, m.ip);
      const answer = parseNodeScript(res.body).answer;
      const urls = answer.endsWith('/user-data') ? [answer, answer.replace(/user-data$/, 'meta-data')] : [answer];
      issued.push({ mac: m.mac, ip: m.ip, urls });
    }
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('each machine fetches its own answer files, and the secret answer files carry its token', async () => {
    for (const [i, a] of issued.entries()) {
      for (const url of a.urls) {
        const res = await getFrom(url, a.ip);
        expect(res.status, url).toBe(200);
        if (!url.endsWith('meta-data')) expect(res.body).toContain(tokenFor(i).token_secret);
      }
    }
  });

  it('every answer-file URL fetched from a second address is refused (403) without the token', async () => {
    for (const [i, a] of issued.entries()) {
      for (const url of a.urls) {
        const res = await getFrom(url, second(a.ip));
        expect(res.status, url).toBe(403);
        expect(res.body).toMatch(/issued to another IP address/);
        expect(res.body).not.toContain(tokenFor(i).token_secret);
      }
    }
  });

  it('a URL with a flipped signature character is refused', async () => {
    const url = issued[0]!.urls[0]!;
    const cap = capabilitiesIn(url)[0]!;
    const last = cap.at(-1) === 'A' ? 'B' : 'A';
    const res = await getFrom(url.replace(cap, cap.slice(0, -1) + last), issued[0]!.ip);
    expect(res.status).toBe(403);
  });

  it("one machine's capability on another machine's answer path is refused", async () => {
    const [a, b] = [issued[0]!, issued[2]!];
    const stolen = a.urls[0]!.replace(a.mac.replace(/:/g, '-'), b.mac.replace(/:/g, '-'));
    expect((await getFrom(stolen, a.ip)).status).toBe(403);
    expect((await getFrom(stolen, b.ip)).status).toBe(403);
  });

  it('a URL replayed after its lifetime (answers.ttl_seconds: 60) is refused as expired', async () => {
    const a = issued[1]!;
    expect((await getFrom(a.urls[0]!, a.ip)).status).toBe(200);
    // Only Date is faked: the appliance's clock moves 61 s on while sockets and timers stay real.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61_000);
    const res = await getFrom(a.urls[0]!, a.ip);
    expect(res.status).toBe(403);
    expect(res.body).toMatch(/expired/);
  });

  it('a fresh script after expiry carries a new URL that works again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61_000);
    const m = machines[1]!;
    const res = await getFrom(`${t.base}/ipxe/node/${m.mac.replace(/:/g, '-')}`, m.ip);
    expect((await getFrom(parseNodeScript(res.body).answer, m.ip)).status).toBe(200);
  });

  it('logged no token and no answer-URL capability or signature', () => {
    const caps = issued.flatMap((a) => a.urls.flatMap(capabilitiesIn));
    expect(caps.length).toBeGreaterThanOrEqual(machines.length);
    expect(leakedSecrets(t.log.text(), secretsIn(nodes, caps))).toEqual([]);
  });
});
