import { describe, expect, it } from 'vitest';
import { jsonSteps, parseJsonInSlices } from '../../../../src/sync/snapshot/json-slices.js';

function run(text: string, slice = 16): { value: unknown; steps: number } {
  const g = jsonSteps(text, slice);
  let steps = 0;
  let r = g.next();
  while (!r.done) {
    steps++;
    r = g.next();
  }
  return { value: r.value, steps };
}

const doc = {
  version: 'v"1\\',
  nodes: Array.from({ length: 50 }, (_, i) => ({ id: i, name: `n[${i}],{"x"}`, tags: ['a', { b: [1, 2, { c: null }] }], ok: i % 2 === 0 })),
  config: { a: 'b', nested: { arr: [1, [2, [3]]] } },
  empty: [],
  s: 'é ✓ \u0000 \n',
};

describe('jsonSteps', () => {
  it('gives exactly what JSON.parse gives, for pretty and compact text', () => {
    for (const text of [JSON.stringify(doc), JSON.stringify(doc, null, 2)]) expect(run(text).value).toEqual(JSON.parse(text));
  });

  it('yields between array elements of a large document', () => {
    expect(run(JSON.stringify(doc)).steps).toBeGreaterThan(10);
  });

  it('parses small documents in one step', () => {
    expect(run('{"a":[1,2]}', 1024)).toEqual({ value: { a: [1, 2] }, steps: 0 });
  });

  it('keeps a "__proto__" key as an own property, like JSON.parse', () => {
    const text = `{"__proto__":{"polluted":true},"pad":"${'x'.repeat(64)}"}`;
    const v = run(text).value as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.hasOwn(v, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['a trailing comma in an array', '{"nodes":[1,2,],"pad":"xxxxxxxxxxxxxxxxxxxx"}'],
    ['a missing comma', '{"nodes":[1 2],"pad":"xxxxxxxxxxxxxxxxxxxx"}'],
    ['an unterminated string', '{"nodes":["abc],"pad":"xxxxxxxxxxxxxxxxxxxx"}'],
    ['mismatched brackets', '{"nodes":[{"a":1]},"pad":"xxxxxxxxxxxxxxxxxxxx"}'],
    ['text after the document', '{"nodes":[1],"pad":"xxxxxxxxxxxxxxxxxxxx"} x'],
    ['a truncated document', '{"nodes":[1,2,3'],
    ['a bare word', '{"nodes":[nope],"pad":"xxxxxxxxxxxxxxxxxxxx"}'],
  ])('throws SyntaxError for %s', (_what, text) => {
    expect(() => run(text)).toThrow(SyntaxError);
  });

  it('parseJsonInSlices resolves with the same value', async () => {
    const text = JSON.stringify(doc);
    await expect(parseJsonInSlices(text, 32)).resolves.toEqual(doc);
  });
});
