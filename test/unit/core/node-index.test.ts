import { describe, expect, it } from 'vitest';
import { HashSlots, indexSteps, keyHash, lookUp } from '../../../src/core/node-index.js';
import { seeded } from '../../support/lossy-udp.js';

describe('node lookup tables', () => {
  it('find every key of 50,000 nodes and none of 50,000 others, through growth from 8 slots', () => {
    const rand = seeded(7);
    const hex = () => Math.floor(rand() * 256).toString(16).padStart(2, '0');
    const seen = new Set<string>();
    const nodes: Array<{ macs: string[]; systemId: string; uuid?: string }> = [];
    while (nodes.length < 50_000) {
      const mac = `52:54:${hex()}:${hex()}:${hex()}:${hex()}`;
      if (seen.has(mac)) continue;
      seen.add(mac);
      const i = nodes.length;
      nodes.push({ macs: [mac], systemId: `node-${i}`, ...(i % 3 ? { uuid: `uuid-${i}` } : {}) });
    }
    const steps = indexSteps(nodes, 1000);
    let r = steps.next();
    let yields = 0;
    for (; !r.done; r = steps.next()) yields++;
    expect(yields).toBe(49);
    const t = r.value;
    // Load at most one half: probe runs stay short.
    expect(t.mac.length / 2).toBeGreaterThanOrEqual(2 * 50_000);
    nodes.forEach((n, i) => {
      expect(lookUp(t.mac, n.macs[0]!, (p) => nodes[p]!.macs.includes(n.macs[0]!))).toBe(i);
      expect(lookUp(t.systemId, n.systemId, (p) => nodes[p]!.systemId === n.systemId)).toBe(i);
      if (n.uuid) expect(lookUp(t.uuid, n.uuid, (p) => nodes[p]!.uuid === n.uuid)).toBe(i);
    });
    let found = 0;
    for (let k = 0; k < 50_000; k++) {
      const mac = `52:55:${hex()}:${hex()}:${hex()}:${hex()}`;
      if (lookUp(t.mac, mac, (p) => nodes[p]!.macs.includes(mac)) >= 0) found++;
    }
    expect(found).toBe(0);
  });

  it('confirm candidates: keys whose hashes collide are told apart', () => {
    const slots = new HashSlots();
    const keys = ['a', 'b', 'c', 'd'];
    // Every key under one hash: only the confirmation separates them.
    keys.forEach((k, i) => expect(slots.add(42, i, (p) => keys[p] === k)).toBe(-1));
    keys.forEach((k, i) => expect(slots.find(42, (p) => keys[p] === k)).toBe(i));
    expect(slots.find(42, () => false)).toBe(-1);
    expect(slots.add(42, 9, (p) => keys[p] === 'c')).toBe(2);
  });

  it('hash the same key the same way in every thread and process (a pure function of its characters)', () => {
    expect(keyHash('52:54:00:00:00:01')).toBe(keyHash(`52:54:00:00:00:0${1}`));
    expect(keyHash('52:54:00:00:00:01')).not.toBe(keyHash('52:54:00:00:00:02'));
    expect(Number.isInteger(keyHash(''))).toBe(true);
  });
});
