import pino from 'pino';
import { BootService, type BootServiceOptions } from '../../src/boot/boot-service.js';
import { DiscoveryLog } from '../../src/observe/discoveries.js';
import { LeaseBook } from '../../src/observe/lease-book.js';
import { BootTimeline } from '../../src/observe/timeline.js';
import { Renderer } from '../../src/render/renderer.js';
import { NodeStore } from '../../src/sync/nodes/index.js';
import { shippedStore, testSigner, testSnapshot } from './renderer.js';

/**
 * A BootService over the test snapshot and the shipped templates, answering for port 5248, with its
 * store and timeline for assertions.
 */
export function testBootService(o: { serverAddress?: string } = {}): { boot: BootService; store: NodeStore; timeline: BootTimeline } {
  const store = new NodeStore();
  store.swap(testSnapshot(), 'test');
  const signer = testSigner();
  const renderer = new Renderer({
    templates: shippedStore(),
    snapshot: () => store.snapshot(),
    answerPrefix: (mac, ip) => `/answers/${mac.replace(/:/g, '-')}/${signer.sign(mac, ip)}`,
    retrySeconds: 10,
  });
  const timeline = new BootTimeline();
  const options = {
    source: store,
    store,
    renderer,
    signer,
    leases: new LeaseBook(),
    discoveries: new DiscoveryLog(),
    log: pino({ level: 'silent' }),
    serverAddress: o.serverAddress ?? 'auto',
    httpPort: 5248,
    retrySeconds: 10,
    timeline,
  };
  return { boot: new BootService(options as unknown as BootServiceOptions), store, timeline };
}
