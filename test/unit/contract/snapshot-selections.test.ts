import { describe, expect, it } from 'vitest';
import { parseSnapshot, selectionKey } from '../../../src/contract/snapshot-schema.js';
import { snapshotToWire } from '../../../src/contract/snapshot-wire.js';

const file = (name: string, n = 1) => ({ name, path: `ubuntu/noble/${name}`, size: 100 * n, sha256: String(n).repeat(64).slice(0, 64) });

describe('boot selections', () => {
  it('accepts the region shape: one selection per os/release/arch/subarch/label with its files', () => {
    const s = parseSnapshot({ boot_selections: [{ os: 'ubuntu', release: 'noble', arch: 'amd64', subarch: 'hwe-24.04', label: 'candidate', files: [file('kernel'), file('initrd', 2)] }] }, 't');
    expect(s.bootSelections).toHaveLength(1);
    expect(selectionKey(s.bootSelections[0]!)).toBe('ubuntu/amd64/hwe-24.04/noble/candidate');
    expect(s.bootSelections[0]!.files.map((f) => f.name)).toEqual(['kernel', 'initrd']);
  });

  it('defaults subarch to generic and label to stable', () => {
    const s = parseSnapshot({ boot_selections: [{ os: 'ubuntu', release: 'noble', arch: 'arm64' }] }, 't');
    expect(selectionKey(s.bootSelections[0]!)).toBe('ubuntu/arm64/generic/noble/stable');
  });

  it('expands the inventory list shape into one selection per combination', () => {
    const s = parseSnapshot({ boot_selections: [{ os: 'ubuntu', release: 'noble', arches: ['amd64', 'arm64'], subarches: ['generic'], labels: ['stable'] }] }, 't');
    expect(s.bootSelections.map(selectionKey)).toEqual(['ubuntu/amd64/generic/noble/stable', 'ubuntu/arm64/generic/noble/stable']);
  });

  it('requires size and sha256 on every file (an unverifiable file is never fetched)', () => {
    expect(() => parseSnapshot({ boot_selections: [{ os: 'ubuntu', release: 'noble', arch: 'amd64', files: [{ name: 'kernel', path: 'k' }] }] }, 'region')).toThrow(
      /boot_selections\[0\]\.files\[0\]\.size.*boot_selections\[0\]\.files\[0\]\.sha256/,
    );
  });

  it('refuses a file path that climbs out with ..', () => {
    expect(() => parseSnapshot({ boot_selections: [{ os: 'u', release: 'n', arch: 'amd64', files: [{ ...file('kernel'), path: 'a/../../etc/passwd' }] }] }, 't')).toThrow(/files\[0\]\.path/);
  });

  it('refuses the same file name twice in one selection', () => {
    expect(() => parseSnapshot({ boot_selections: [{ os: 'u', release: 'n', arch: 'amd64', files: [file('kernel'), file('kernel', 2)] }] }, 't')).toThrow(/twice/);
  });

  it('refuses the same image selected twice', () => {
    const sel = { os: 'u', release: 'n', arch: 'amd64' };
    expect(() => parseSnapshot({ boot_selections: [sel, { ...sel, arches: ['amd64'], arch: undefined }] }, 't')).toThrow(/selected twice/);
  });

  it('a snapshot turned into the wire shape parses back to the same snapshot', () => {
    const raw = {
      version: 'v9',
      nodes: [{ system_id: 'a1', hostname: 'h1', macs: ['52:54:00:00:00:01'], arch: 'arm64/generic', status: 'new', token: { consumer_key: 'c', token_key: 'k', token_secret: 's' } }],
      config: { metadata_url: 'http://r/' },
      boot_selections: [{ os: 'ubuntu', release: 'noble', arches: ['amd64'], files: [file('kernel')] }],
    };
    const s = parseSnapshot(raw, 't');
    const back = parseSnapshot(JSON.parse(JSON.stringify(snapshotToWire(s))), 'wire');
    expect(JSON.stringify(back)).toBe(JSON.stringify(s));
    expect(back.nodes[0]!.token!.tokenSecret.reveal()).toBe('s');
  });

  it('caps the problem list of a huge bad snapshot and says how many more', () => {
    const nodes = Array.from({ length: 200 }, (_, i) => ({ system_id: `a${i}`, hostname: 'bad host', macs: ['52:54:00:00:00:01'], arch: 'amd64', status: 'new' }));
    expect(() => parseSnapshot({ nodes }, 't')).toThrow(/…and \d+ more$/);
  });
});
