import { describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import type { Node } from '../../../src/core/node.js';
import { decidePurpose } from '../../../src/render/purpose.js';

function node(status: string, statusReason?: string): Node {
  return {
    systemId: 'abc123',
    hostname: 'node01',
    macs: [parseMac('52:54:00:00:00:01')],
    arch: 'amd64',
    subarch: 'generic',
    status,
    statusReason,
    osystem: 'ubuntu',
    release: 'noble',
    kernelOpts: '',
  };
}

describe('decidePurpose', () => {
  const table: Array<[string, string]> = [
    ['new', 'wait'],
    ['commissioning', 'commission'],
    ['testing', 'commission'],
    ['deploying', 'install'],
    ['deployed', 'local'],
    ['allocated', 'local'],
    ['ready', 'local'],
    ['rescue', 'rescue'],
    ['failed', 'error'],
    ['broken', 'error'],
    ['exploding', 'error'],
  ];
  for (const [state, purpose] of table) {
    it(`state ${state} → ${purpose}`, () => {
      expect(decidePurpose(node(state)).purpose).toBe(purpose);
    });
  }

  it('an unknown MAC enlists', () => {
    expect(decidePurpose(undefined).purpose).toBe('enlist');
  });

  it('an unknown MAC waits for the region while no snapshot was ever loaded', () => {
    expect(decidePurpose(undefined, { snapshotLoaded: false }).purpose).toBe('region-wait');
  });

  it('a failed node gets a warning and its reason', () => {
    const d = decidePurpose(node('failed', 'disk sda died'));
    expect(d.warn).toBe(true);
    expect(d.reason).toContain('disk sda died');
    expect(d.reason).toContain('failed');
  });

  it('a new node is never given a disk-touching purpose', () => {
    expect(['install', 'commission', 'local']).not.toContain(decidePurpose(node('new')).purpose);
  });
});
