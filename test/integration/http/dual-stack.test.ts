import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFrom, startTestAppliance, type TestAppliance } from '../../support/appliance.js';

// The default HTTP listener ("::") takes IPv4 and IPv6 clients on one port, and each gets URLs naming the
// address it asked, IPv6 bracketed.

const MAC = '52:54:00:6b:00:01';
let t: TestAppliance;

beforeAll(async () => {
  const node = { system_id: 'ds1', hostname: 'ds1', macs: [MAC], arch: 'amd64/generic', status: 'deploying', osystem: 'debian', release: 'bookworm' };
  // The package default, not the test helper's 127.0.0.1.
  t = await startTestAppliance({ nodes: [node] }, { http: { port: 0, listen: '::' } });
});

afterAll(async () => {
  await t?.stop();
});

describe('HTTP on both stacks by default', () => {
  it('the default listen address is "::"', async () => {
    const { parseConfig } = await import('../../../src/config/config.js');
    expect(parseConfig({ inventory: 'i.yaml', boot_root: '.' }, '/tmp/x.yaml').http.listen).toBe('::');
  });

  it('answers an IPv4 client with IPv4 URLs', async () => {
    const res = await getFrom(`http://127.0.0.1:${t.app.httpPort}/ipxe/node/${MAC.replace(/:/g, '-')}`, '127.0.0.1');
    expect(res.status).toBe(200);
    expect(res.body).toContain(`http://127.0.0.1:${t.app.httpPort}/`);
  });

  it('answers an IPv6 client with bracketed IPv6 URLs, entry script included', async () => {
    const res = await getFrom(`http://[::1]:${t.app.httpPort}/ipxe/node/${MAC.replace(/:/g, '-')}`, '::1');
    expect(res.status).toBe(200);
    expect(res.body).toContain(`http://[::1]:${t.app.httpPort}/`);
    expect(res.body).not.toMatch(/http:\/\/::1:/);
    const entry = await getFrom(`http://[::1]:${t.app.httpPort}/boot.ipxe`, '::1');
    expect(entry.body).toContain(`chain --autofree http://[::1]:${t.app.httpPort}/ipxe/node/`);
  });
});
