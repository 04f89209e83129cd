import { describe, expect, it } from 'vitest';
import type { WireNode, WireSnapshot } from '../../../src/contract/index.js';
import { ChangeLog } from '../../../src/region-server/change-log.js';

const node = (id: string, status = 'deployed'): WireNode => ({ system_id: id, hostname: `h-${id}`, macs: [], arch: 'amd64/generic', status });
const snap = (nodes: WireNode[], config: WireSnapshot['config'] = {}): WireSnapshot => ({ version: '', nodes, config, boot_selections: [] });

describe('ChangeLog', () => {
  it('counts only snapshots that differ, and the first load is the base', () => {
    const log = new ChangeLog(100);
    expect(log.record(snap([node('a')]))).toBe(false);
    expect(log.revision).toBe(100);
    expect(log.record(snap([node('a')]))).toBe(false);
    expect(log.record(snap([node('a', 'ready')]))).toBe(true);
    expect(log.revision).toBe(101);
  });

  it('answers added, changed and removed nodes since a revision, config only when it changed', () => {
    const log = new ChangeLog(0);
    log.record(snap([node('a'), node('b')]));
    log.record(snap([node('a', 'ready'), node('b')])); // 1
    log.record(snap([node('a', 'ready'), node('c')])); // 2: b removed, c added
    log.record(snap([node('a', 'ready'), node('c')], { kernel_opts: 'quiet' })); // 3
    expect(log.since(0)).toEqual({ revision: 3, nodes_changed: [node('a', 'ready'), node('c')], nodes_removed: ['b'], config: { kernel_opts: 'quiet' } });
    expect(log.since(1)).toEqual({ revision: 3, nodes_changed: [node('c')], nodes_removed: ['b'], config: { kernel_opts: 'quiet' } });
    expect(log.since(2)).toEqual({ revision: 3, nodes_changed: [], nodes_removed: [], config: { kernel_opts: 'quiet' } });
    expect(log.since(3)).toEqual({ revision: 3, nodes_changed: [], nodes_removed: [] });
  });

  it('a node removed then added again is changed, not removed', () => {
    const log = new ChangeLog(0);
    log.record(snap([node('a'), node('b')]));
    log.record(snap([node('a')]));
    log.record(snap([node('a'), node('b', 'ready')]));
    expect(log.since(0)).toEqual({ revision: 2, nodes_changed: [node('b', 'ready')], nodes_removed: [] });
  });

  it('refuses a since older than the history kept or ahead of the current revision', () => {
    const log = new ChangeLog(10, 2);
    log.record(snap([node('a')]));
    for (const s of ['new', 'ready', 'deployed', 'broken']) log.record(snap([node('a', s)]));
    expect(log.revision).toBe(14);
    expect(log.floor).toBe(12);
    expect(log.since(11)).toEqual({ gone: 'too-old', revision: 14 });
    expect(log.since(12)).toMatchObject({ revision: 14, nodes_changed: [node('a', 'broken')] });
    expect(log.since(15)).toEqual({ gone: 'ahead', revision: 14 });
  });

  it('resumes from the state a previous process left: the first load is compared with it, not taken as the base', () => {
    const before = new ChangeLog(100);
    before.record(snap([node('a'), node('b')]));
    before.record(snap([node('a', 'ready'), node('b')])); // 101
    const state = before.state();
    expect(state.revision).toBe(101);
    expect(JSON.stringify(state)).not.toContain('h-a');
    // A restarted process with c added, b changed and the config changed answers since=101 with a delta.
    const after = new ChangeLog(999_999, 10_000, state);
    expect(after.revision).toBe(101);
    expect(after.record(snap([node('a', 'ready'), node('b', 'broken'), node('c')], { kernel_opts: 'quiet' }))).toBe(true);
    expect(after.revision).toBe(102);
    expect(after.since(101)).toEqual({ revision: 102, nodes_changed: [node('b', 'broken'), node('c')], nodes_removed: [], config: { kernel_opts: 'quiet' } });
    // What the previous process answered before its last revision is gone: re-list.
    expect(after.since(100)).toEqual({ gone: 'too-old', revision: 102 });
  });

  it('a restarted process with unchanged contents stays at the revision it resumed, and removals are seen', () => {
    const before = new ChangeLog(5);
    before.record(snap([node('a'), node('b')]));
    const same = new ChangeLog(0, 10_000, before.state());
    expect(same.record(snap([node('a'), node('b')]))).toBe(false);
    expect(same.since(5)).toEqual({ revision: 5, nodes_changed: [], nodes_removed: [] });
    const fewer = new ChangeLog(0, 10_000, before.state());
    expect(fewer.record(snap([node('a')]))).toBe(true);
    expect(fewer.since(5)).toEqual({ revision: 6, nodes_changed: [], nodes_removed: ['b'] });
  });

  it('state() after a change carries the changed node\'s new digest and keeps the others', () => {
    const log = new ChangeLog(1);
    log.record(snap([node('a'), node('b')]));
    const one = log.state();
    log.record(snap([node('a'), node('b', 'ready')]));
    const two = log.state();
    expect(two.revision).toBe(2);
    expect(two.nodes.a).toBe(one.nodes.a);
    expect(two.nodes.b).not.toBe(one.nodes.b);
    // Resuming from it answers nothing new for the same contents.
    const again = new ChangeLog(0, 10, two);
    expect(again.record(snap([node('a'), node('b', 'ready')]))).toBe(false);
  });

  it('per cluster: a move X->Y is removed for X and changed for Y; unscoped nodes reach every cluster; a resumed log keeps Y\'s changes Y\'s', () => {
    const inX = (id: string, status = 'deployed') => ({ ...node(id, status), cluster: 'x' });
    const inY = (id: string, status = 'deployed') => ({ ...node(id, status), cluster: 'y' });
    const log = new ChangeLog(0);
    log.record(snap([inX('a'), inY('b'), node('u')]));
    log.record(snap([inY('a'), inY('b'), node('u')])); // 1: a moves x -> y
    expect(log.since(0, 'x')).toEqual({ revision: 1, nodes_changed: [], nodes_removed: ['a'] });
    expect(log.since(0, 'y')).toEqual({ revision: 1, nodes_changed: [inY('a')], nodes_removed: [] });
    log.record(snap([inY('a'), inY('b', 'ready'), node('u')])); // 2: only y
    expect(log.touchedAfter(1, 'x')).toBe(false);
    expect(log.touchedAfter(1, 'y')).toBe(true);
    log.record(snap([inY('a'), inY('b', 'ready'), node('u', 'ready')])); // 3: unscoped
    expect(log.since(2, 'x')).toEqual({ revision: 3, nodes_changed: [node('u', 'ready')], nodes_removed: [] });
    expect(log.since(2, 'y')).toEqual({ revision: 3, nodes_changed: [node('u', 'ready')], nodes_removed: [] });
    const resumed = new ChangeLog(0, 10, log.state());
    resumed.record(snap([inY('a'), inY('b', 'broken'), node('u', 'ready')]));
    expect(resumed.since(3, 'y')).toEqual({ revision: 4, nodes_changed: [inY('b', 'broken')], nodes_removed: [] });
    expect((resumed.since(3, 'x') as { nodes_changed: unknown[] }).nodes_changed).toEqual([]);
  });
});
