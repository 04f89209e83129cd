import { describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import type { Node } from '../../../src/core/node.js';
import { summarise } from '../../../src/observe/node-summary.js';
import { BootTimeline } from '../../../src/observe/timeline.js';

describe('paginated node list', () => {
  it('puts stuck machines first and covers every MAC and known node exactly once across pages', () => {
    const t = new BootTimeline();
    const now = Date.now();
    const seen = Array.from({ length: 230 }, (_, i) => parseMac((0x525400bb0000 + i).toString(16).padStart(12, '0')));
    seen.forEach((mac, i) => t.record(mac, { at: now - 100_000 + i * 10, stage: 'kernel', via: 'http', detail: 'kernel', outcome: 'ok' }));
    const loops = [seen[5]!, seen[100]!, seen[7]!];
    for (const mac of loops) for (let k = 0; k < 2; k++) t.record(mac, { at: now - 50_000 + k, stage: 'loader', via: 'tftp', detail: 'undionly.kpxe', outcome: 'ok' });
    const unseen = Array.from({ length: 40 }, (_, i) => ({ macs: [parseMac((0x525400cc0000 + i).toString(16).padStart(12, '0'))], hostname: `n${i}` }) as unknown as Node);
    const source = { nodes: unseen, byMac: (m: string) => unseen.find((n) => n.macs[0] === m) };
    const first = summarise(source, t, now, 100, 0);
    expect(first.total).toBe(270);
    expect(first.stuck).toBe(3);
    expect(first.nodes.slice(0, 3).map((n) => n.mac).sort()).toEqual([...loops].sort());
    expect(first.nodes[0]!.flags[0]!.kind).toBe('chain-loop');
    const all = [0, 100, 200].flatMap((o) => summarise(source, t, now, 100, o).nodes.map((n) => n.mac));
    expect(all).toHaveLength(270);
    expect(new Set(all).size).toBe(270);
    expect(all.at(-1)).toBe(unseen.at(-1)!.macs[0]);
    expect(summarise(source, t, now, 100, 200).nodes.at(-1)!.hostname).toBe('n39');
  });
});
