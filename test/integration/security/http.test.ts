import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { machinesFor } from '../../support/storm-run.js';
import { startTestAppliance, type TestAppliance } from '../../support/appliance.js';
import { deployingNodes, leakedSecrets, secretsIn } from '../../support/drill.js';
import { rawHttp } from '../../support/raw-http.js';

const nodes = deployingNodes(machinesFor(2, '127.96'));
const mac = (nodes[0]!.macs as string[])[0]!.replace(/:/g, '-');
const req = (line: string, headers: string[] = []) => `${line}\r\n${['Host: edgeboot', ...headers].join('\r\n')}\r\n\r\n`;

/** Oversized and malformed requests, each on its own connection. */
const CASES: Array<[string, () => Buffer | string]> = [
  ['a request line that is not HTTP', () => 'GARBAGE\r\n\r\n'],
  ['random binary', () => randomBytes(64 * 1024)],
  ['NUL bytes before the request', () => Buffer.concat([Buffer.alloc(32), Buffer.from(req('GET /boot.ipxe HTTP/1.1'))])],
  ['an unknown method', () => req('FOO /boot.ipxe HTTP/1.1')],
  ['an unsupported HTTP version', () => req('GET /boot.ipxe HTTP/9.9')],
  ['a 100 KB URL', () => req(`GET /${'a'.repeat(100_000)} HTTP/1.1`)],
  ['a 100 KB header', () => req('GET /boot.ipxe HTTP/1.1', [`X-Big: ${'b'.repeat(100_000)}`])],
  ['10000 headers', () => req('GET /boot.ipxe HTTP/1.1', Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v`))],
  ['a header without a colon', () => req('GET /boot.ipxe HTTP/1.1', ['NoColonHere'])],
  ['a NUL in a header value', () => req('GET /boot.ipxe HTTP/1.1', ['X-Bad: a\x00b'])],
  ['a bare CR in a header value', () => req('GET /boot.ipxe HTTP/1.1', ['X-Bad: a\rInjected: 1'])],
  ['a space before the header colon', () => req('GET /boot.ipxe HTTP/1.1', ['Content-Length : 5'])],
  ['Content-Length and Transfer-Encoding together (smuggling)', () => req('POST /boot.ipxe HTTP/1.1', ['Content-Length: 4', 'Transfer-Encoding: chunked']) + '0\r\n\r\n'],
  ['two different Content-Lengths', () => req('POST /boot.ipxe HTTP/1.1', ['Content-Length: 4', 'Content-Length: 9']) + 'abcd'],
  ['a negative Content-Length', () => req('POST /boot.ipxe HTTP/1.1', ['Content-Length: -1'])],
  ['a broken chunk size', () => req('POST /boot.ipxe HTTP/1.1', ['Transfer-Encoding: chunked']) + 'zz\r\nabc\r\n0\r\n\r\n'],
  ['a 2 MB body to a read-only server', () => req('POST /boot.ipxe HTTP/1.1', ['Content-Length: 2000000', 'Connection: close']) + 'x'.repeat(2_000_000)],
  ['invalid percent-encoding in a file path', () => req('GET /images/%zz%gg HTTP/1.1', ['Connection: close'])],
  ['a NUL in a file path', () => req('GET /images/ker%00nel HTTP/1.1', ['Connection: close'])],
  ['a MAC that is not one', () => req('GET /ipxe/node/zz-zz-zz HTTP/1.1', ['Connection: close'])],
  ['a 4 KB MAC', () => req(`GET /ipxe/node/${'5'.repeat(4096)} HTTP/1.1`, ['Connection: close'])],
  ['a UUID that is not one', () => req('GET /ipxe_config?node_uuid=%0a%0d%00 HTTP/1.1', ['Connection: close'])],
  ['ipxe_config with neither key', () => req('GET /ipxe_config?x=1 HTTP/1.1', ['Connection: close'])],
  ['an answer file with a 2 KB capability', () => req(`GET /answers/${mac}/${'c'.repeat(2048)}/user-data HTTP/1.1`, ['Connection: close'])],
  ['an answer file that does not exist', () => req(`GET /answers/${mac}/x.y.z/shadow HTTP/1.1`, ['Connection: close'])],
  ['a query string of 5000 parameters', () => req(`GET /ipxe_config?${Array.from({ length: 5000 }, (_, i) => `p${i}=1`).join('&')} HTTP/1.1`, ['Connection: close'])],
  ['repeated query keys', () => req('GET /ipxe_config?port_address=a&port_address=b&node_uuid=x&node_uuid=y HTTP/1.1', ['Connection: close'])],
  ['a DELETE', () => req('DELETE /undionly.kpxe HTTP/1.1', ['Connection: close'])],
  ['a PUT with a body', () => req('PUT /evil.bin HTTP/1.1', ['Content-Length: 3', 'Connection: close']) + 'abc'],
];

describe('security: oversized and garbage HTTP requests get a 4xx and the daemon stays up', () => {
  let t: TestAppliance;
  beforeAll(async () => {
    t = await startTestAppliance({ nodes });
  });
  afterAll(async () => {
    await t.stop();
  });

  for (const [name, payload] of CASES) {
    it(`${name}: 4xx, then /healthz still answers`, async () => {
      const res = await rawHttp(t.app.httpPort!, payload(), 5000);
      expect(res.status, res.text.slice(0, 200)).toBeGreaterThanOrEqual(400);
      expect(res.status, res.text.slice(0, 200)).toBeLessThan(500);
      expect((await fetch(`${t.base}/healthz`)).status).toBe(200);
    });
  }

  it('50 garbage connections at once leave it serving', async () => {
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => rawHttp(t.app.httpPort!, CASES[i % CASES.length]![1](), 5000)));
    expect(all.filter((r) => r.status >= 500)).toEqual([]);
    const res = await fetch(`${t.base}/ipxe/node/${mac}`);
    expect(res.status).toBe(200);
  });

  it('logged no error-level line, no token and no answer-URL signature', () => {
    expect(t.log.entries().filter((e) => (e.level as number) >= 50)).toEqual([]);
    expect(leakedSecrets(t.log.text(), secretsIn(nodes))).toEqual([]);
  });
});
