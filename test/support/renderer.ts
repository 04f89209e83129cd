import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CapabilitySigner } from '../../src/core/capability.js';
import type { Snapshot } from '../../src/core/node.js';
import { KINDS } from '../../src/render/kinds.js';
import { Renderer } from '../../src/render/renderer.js';
import { TemplateStore } from '../../src/render/template-store.js';
import { parseSnapshot } from '../../src/contract/snapshot-schema.js';

/** The repo's shipped templates folder. */
export const SHIPPED = join(import.meta.dirname, '../../templates');

/** A TemplateStore holding the shipped templates (read synchronously, as a test fixture). */
export function shippedStore(extraLayers: string[] = []): TemplateStore {
  const store = new TemplateStore([...extraLayers, SHIPPED]);
  const layer = extraLayers.length;
  for (const kind of KINDS) {
    let names: string[];
    try {
      names = readdirSync(join(SHIPPED, kind)).filter((n) => n.endsWith('.eta'));
    } catch {
      continue;
    }
    for (const n of names) {
      const err = store.put(layer, kind, n.slice(0, -4), readFileSync(join(SHIPPED, kind, n), 'utf8'), `${kind}/${n}`);
      if (err) throw err;
    }
  }
  return store;
}

/** A signer with a fixed key and clock. */
export function testSigner(now = () => 1_700_000_000_000, bindIp = true): CapabilitySigner {
  return new CapabilitySigner({ key: Buffer.alloc(32, 7), ttlSeconds: 7200, bindIp, now });
}

/** A renderer over the shipped templates and `snapshot`. */
export function testRenderer(snapshot: Snapshot | undefined, store = shippedStore()): Renderer {
  const signer = testSigner();
  return new Renderer({
    templates: store,
    snapshot: () => snapshot,
    answerPrefix: (mac, ip) => `/answers/${mac.replace(/:/g, '-')}/${signer.sign(mac, ip)}`,
    retrySeconds: 10,
  });
}

/** A small valid snapshot; `patch` edits the raw first node. */
export function testSnapshot(patch: Record<string, unknown> = {}): Snapshot {
  return parseSnapshot(
    {
      nodes: [
        {
          system_id: 'abc123',
          hostname: 'node01',
          macs: ['52:54:00:00:00:01'],
          uuid: '4c4c4544-0042-3510-8056-b4c04f395231',
          arch: 'amd64/generic',
          status: 'deploying',
          osystem: 'debian',
          release: 'trixie',
          kernel_opts: 'console=ttyS0',
          token: { consumer_key: 'ck-secret-1', token_key: 'tk-secret-1', token_secret: 'ts-secret-1' },
          ...patch,
        },
      ],
      config: { metadata_url: 'http://region:5240/MAAS/metadata/' },
    },
    'test snapshot',
  );
}
