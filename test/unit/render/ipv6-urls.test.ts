import { describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import type { Kind } from '../../../src/render/kinds.js';
import { testRenderer, testSnapshot } from '../../support/renderer.js';

// Every URL a boot script or answer file names, with the appliance on IPv6: literals bracketed, never bare.
const mac = parseMac('52:54:00:00:00:01');
const server = { address: 'fd80:21::1', httpPort: 5248 };

function render(kind: Kind, patch: Record<string, unknown> = {}) {
  const snap = testSnapshot(patch);
  return testRenderer(snap).render({ kind, node: snap.nodes[0], mac, server, clientIp: 'fd80:21::100' }).text;
}

const BARE = /(?:https?|tftp):\/\/fd80:21::1/;

describe('rendered URLs with an IPv6 server address', () => {
  it('iPXE: kernel, initrd and answer URLs are bracketed', () => {
    const out = render('ipxe');
    expect(out).toContain('kernel http://[fd80:21::1]:5248/images/');
    expect(out).toContain('initrd http://[fd80:21::1]:5248/images/');
    expect(out).toMatch(/url=http:\/\/\[fd80:21::1\]:5248\/answers\/52-54-00-00-00-01\/[^/\s]+\/preseed/);
    expect(out).not.toMatch(BARE);
  });

  it('GRUB: the tftp and http devices carry the bracketed address', () => {
    const out = render('grub');
    expect(out).toContain("(tftp,[fd80:21::1])");
    expect(out).toContain("(http,[fd80:21::1]:5248)");
    expect(out).not.toMatch(BARE);
  });

  it('PXELINUX and the answer files name no bare IPv6 literal', () => {
    expect(render('pxelinux')).toContain('http://[fd80:21::1]:5248/');
    expect(render('pxelinux')).not.toMatch(BARE);
    expect(render('preseed')).not.toMatch(BARE);
    const ubuntu = render('user-data', { osystem: 'ubuntu', release: 'noble' });
    expect(ubuntu).not.toMatch(BARE);
  });

  it('the iPXE entry script chains to the bracketed address', async () => {
    const { renderEntryScript } = await import('../../../src/render/entry-script.js');
    const { httpBase } = await import('../../../src/core/ip.js');
    expect(renderEntryScript(httpBase('fd80:21::1', 5248), 10)).toContain('chain --autofree http://[fd80:21::1]:5248/ipxe/node/');
  });

  it('a zone id never reaches a script', () => {
    expect(() => testRenderer(testSnapshot()).render({ kind: 'ipxe', node: undefined, mac, server: { address: 'fe80::1%eth0', httpPort: 5248 }, clientIp: 'fe80::2' })).toThrow(/zone id/);
  });
});
