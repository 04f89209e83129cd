import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/core/secret.js';
import { NodeStore } from '../../../src/sync/nodes/node-store.js';
import { parseSnapshot } from '../../../src/contract/snapshot-schema.js';
import { testSnapshot } from '../../support/renderer.js';

const base = {
  system_id: 'a1',
  hostname: 'h1',
  macs: ['52:54:00:00:00:01'],
  arch: 'amd64/generic',
  status: 'ready',
};

describe('parseSnapshot', () => {
  it('normalises MACs, UUIDs and arch/subarch', () => {
    const s = parseSnapshot({ nodes: [{ ...base, macs: ['52-54-00-AA-BB-CC'], uuid: '{4C4C4544004235108056B4C04F395231}', arch: 'ARM64' }] }, 't');
    expect(s.nodes[0]!.macs).toEqual(['52:54:00:aa:bb:cc']);
    expect(s.nodes[0]!.uuid).toBe('4c4c4544-0042-3510-8056-b4c04f395231');
    expect(s.nodes[0]!.arch).toBe('arm64');
    expect(s.nodes[0]!.subarch).toBe('generic');
  });

  it('reports every problem with its path', () => {
    expect(() => parseSnapshot({ nodes: [{ ...base, macs: ['nope'] }, { ...base, hostname: 'bad host' }] }, 'region')).toThrow(
      /nodes\[0\]\.macs\[0\].*nodes\[1\]\.hostname/,
    );
  });

  it('refuses a MAC claimed by two nodes', () => {
    expect(() => parseSnapshot({ nodes: [base, { ...base, system_id: 'a2', hostname: 'h2' }] }, 'x')).toThrow(/already belongs to node a1/);
  });

  it('refuses a token with characters that could break a header or shell line', () => {
    expect(() => parseSnapshot({ nodes: [{ ...base, token: { consumer_key: 'a"b', token_key: 'k', token_secret: 's' } }] }, 'x')).toThrow(
      /token\.consumer_key/,
    );
  });

  it('keeps tokens as secrets that never print', () => {
    const n = testSnapshot().nodes[0]!;
    expect(n.token!.tokenKey).toBeInstanceOf(Secret);
    const printed = `${JSON.stringify(n)} ${inspect(n, { depth: 5 })} ${String(n.token!.tokenSecret)}`;
    expect(printed).not.toContain('tk-secret-1');
    expect(printed).not.toContain('ts-secret-1');
    expect(n.token!.tokenKey.reveal()).toBe('tk-secret-1');
  });
});

describe('NodeStore', () => {
  it('indexes by MAC, UUID and system_id', () => {
    const store = new NodeStore();
    const snap = testSnapshot();
    store.swap(snap, 'test');
    const n = snap.nodes[0]!;
    expect(store.find({ mac: n.macs[0] })).toBe(n);
    expect(store.find({ uuid: n.uuid })).toBe(n);
    expect(store.find({ systemId: 'abc123' })).toBe(n);
    expect(store.find({ systemId: 'nope' })).toBeUndefined();
  });

  it('reports not loaded until the first swap', () => {
    const store = new NodeStore();
    expect(store.status().loaded).toBe(false);
    store.swap(testSnapshot(), 'test');
    expect(store.status().loaded).toBe(true);
  });
});
