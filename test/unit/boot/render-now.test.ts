import { describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import { testBootService } from '../../support/boot-service.js';

// The boot routes answer from BootService.renderNow (no promise per request) and a per-address entry script:
// both must answer exactly what the asynchronous render and a fresh entry script answer.

const KNOWN = parseMac('52:54:00:00:00:01');
const UNKNOWN = parseMac('52:54:00:00:00:99');
const req = (mac: typeof KNOWN) => ({ kind: 'ipxe' as const, mac, clientIp: '10.9.0.50', localAddress: '10.9.0.1', via: 'http' as const });

describe('BootService.renderNow', () => {
  it('answers synchronously what render answers, and puts the same timeline event down each time', async () => {
    const { boot, timeline } = testBootService();
    for (const mac of [KNOWN, UNKNOWN]) {
      const now = boot.renderNow(req(mac));
      expect(now).not.toBeInstanceOf(Promise);
      const later = await boot.render(req(mac));
      expect(now.text).toBe(later.text);
      expect(now.node).toBe(later.node);
      // Twice more from the cache: each request is its own event, with the purpose and template of its node.
      boot.renderNow(req(mac));
      const details = timeline.events(mac).map((e) => e.detail);
      expect(details).toHaveLength(3);
      expect(new Set(details).size).toBe(1);
      expect(details[0]).toBe(`${later.decision!.purpose} ipxe/${later.template!.name}`);
    }
    // The known node deploys, the unknown one enlists: the cached details are not shared across results.
    expect(timeline.events(KNOWN)[0]!.detail).not.toBe(timeline.events(UNKNOWN)[0]!.detail);
  });
});

describe('the entry script', () => {
  it('names the address each request arrived on and the port bound last', () => {
    const { boot } = testBootService();
    expect(boot.entryScript('10.9.0.1')).toContain('http://10.9.0.1:5248/ipxe/node/');
    expect(boot.entryScript('::ffff:10.9.0.2')).toContain('http://10.9.0.2:5248/ipxe/node/');
    expect(boot.entryScript('10.9.0.1')).toContain('http://10.9.0.1:5248/ipxe/node/');
    boot.setHttpPort(40123);
    expect(boot.entryScript('10.9.0.1')).toContain('http://10.9.0.1:40123/ipxe/node/');
    expect(boot.entryScript('10.9.0.1')).not.toContain(':5248');
  });
});
