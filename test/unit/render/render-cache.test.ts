import { describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import type { Snapshot } from '../../../src/core/node.js';
import { RenderCache } from '../../../src/render/render-cache.js';
import { Renderer } from '../../../src/render/renderer.js';
import { shippedStore, testSigner, testSnapshot } from '../../support/renderer.js';

const server = { address: '10.9.0.1', httpPort: 5248 };
const mac = parseMac('52:54:00:00:00:01');
const t0 = 1_700_000_000_000; // 20 s into its 60-second signing bucket (TTL 7200 s)

function setup(first: Snapshot = testSnapshot()) {
  const state = { snapshot: first, now: t0 };
  const store = shippedStore(['/override']);
  const signer = testSigner(() => state.now);
  const renderer = new Renderer({
    templates: store,
    snapshot: () => state.snapshot,
    answerPrefix: (m, ip) => `/answers/${m.replace(/:/g, '-')}/${signer.sign(m, ip)}`,
    retrySeconds: 10,
  });
  const render = (kind: 'ipxe' | 'preseed' = 'ipxe', clientIp = '10.9.0.50') =>
    renderer.render({ kind, node: state.snapshot.nodes[0], mac, server, clientIp });
  return { state, store, renderer, render };
}

describe('the rendered-script cache', () => {
  it('answers a repeated request from memory, the same text', () => {
    const { renderer, render } = setup();
    const a = render();
    const b = render();
    expect(b.text).toBe(a.text);
    expect(renderer.cacheStats()).toMatchObject({ entries: 1, hits: 1, misses: 1 });
  });

  it('shows a node change on the next request after a snapshot swap', () => {
    const { state, render } = setup();
    expect(render().text).toContain('node01');
    state.snapshot = testSnapshot({ hostname: 'node01-renamed', status: 'rescue' });
    const text = render().text;
    expect(text).toContain('node01-renamed');
    expect(text).toContain('edgeboot.purpose=rescue');
  });

  it('shows a cluster setting change on the next request although the node object is the same', () => {
    const { state, render } = setup();
    expect(render().text).not.toContain('quiet-from-config');
    const next = testSnapshot();
    state.snapshot = { ...next, nodes: state.snapshot.nodes, config: { ...next.config, kernelOpts: 'quiet-from-config' } };
    expect(render().text).toContain('quiet-from-config');
  });

  it('shows a template edit (or removal) on the next request', () => {
    const { store, render } = setup();
    expect(render().text).not.toContain('edited template');
    store.put(0, 'ipxe', 'install', '#!ipxe\necho edited template for <%= it.hostname %>\n', 'override/ipxe/install.eta');
    expect(render().text).toContain('edited template for node01');
    store.remove(0, 'ipxe', 'install');
    expect(render().text).not.toContain('edited template');
  });

  it('renders again for another client IP (the answer URL is bound to it)', () => {
    const { render } = setup();
    const a = render('ipxe', '10.9.0.50');
    const b = render('ipxe', '10.9.0.51');
    expect(b.text).not.toBe(a.text);
    expect(Buffer.from(/\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]{43}\//.exec(b.text)![1]!, 'base64url').toString()).toBe('10.9.0.51');
  });

  it('keeps the answer URL for its signing bucket, then serves a new one with a later expiry', () => {
    const { state, renderer, render } = setup();
    const first = render().text;
    state.now = t0 + 30_000;
    expect(render().text).toBe(first);
    state.now = t0 + 45_000;
    const next = render().text;
    expect(next).not.toBe(first);
    const exp = (text: string) => Number.parseInt(/\/answers\/[^/]+\/([0-9a-z]+)\./.exec(text)![1]!, 36);
    expect(exp(next) - exp(first)).toBe(60);
    expect(renderer.cacheStats().hits).toBe(1);
  });

  it('never caches answer files (they carry the node token)', () => {
    const { renderer, render } = setup();
    render('preseed');
    render('preseed');
    expect(renderer.cacheStats()).toMatchObject({ entries: 0, hits: 0 });
  });

  it('misses for another node object under the same key', () => {
    const { state, renderer } = setup();
    const node = state.snapshot.nodes[0]!;
    renderer.render({ kind: 'ipxe', node, mac, server, clientIp: '10.9.0.50' });
    const text = renderer.render({ kind: 'ipxe', node: { ...node, hostname: 'copy' }, mac, server, clientIp: '10.9.0.50' }).text;
    expect(text).toContain('copy');
  });
});

describe('RenderCache bounds', () => {
  it('keeps at most maxEntries, dropping the least recently used', () => {
    const c = new RenderCache<string>({ maxEntries: 2 });
    c.generation('s', 1);
    c.set('a', undefined, 'A', 1);
    c.set('b', undefined, 'B', 1);
    expect(c.get('a', undefined)).toBe('A');
    c.set('c', undefined, 'C', 1);
    expect(c.get('b', undefined)).toBeUndefined();
    expect(c.get('a', undefined)).toBe('A');
    expect(c.stats().entries).toBe(2);
  });

  it('keeps at most maxChars of text', () => {
    const c = new RenderCache<string>({ maxChars: 10 });
    c.generation('s', 1);
    c.set('a', undefined, 'A', 6);
    c.set('b', undefined, 'B', 6);
    expect(c.stats()).toMatchObject({ entries: 1, chars: 6 });
    c.set('huge', undefined, 'H', 11);
    expect(c.get('huge', undefined)).toBeUndefined();
  });

  it('holds 50,000 nodes worth of keys within its bounds', () => {
    const c = new RenderCache<string>();
    c.generation('s', 1);
    const text = 'x'.repeat(1300);
    for (let i = 0; i < 50_000; i++) c.set(`ipxe\n52:54:00:${i}`, undefined, text, text.length);
    expect(c.stats().entries).toBeLessThanOrEqual(8192);
    expect(c.stats().chars).toBeLessThanOrEqual(16 * 1024 * 1024);
  });

  it('empties itself when the generation changes', () => {
    const c = new RenderCache<string>();
    c.generation('s', 1);
    c.set('a', undefined, 'A', 1);
    c.generation('s', 2);
    expect(c.get('a', undefined)).toBeUndefined();
    c.set('a', undefined, 'A', 1);
    c.generation('t', 2);
    expect(c.get('a', undefined)).toBeUndefined();
  });
});
