import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { machinesFor, runStorm } from '../../bench/storm-run.js';
import { startTestAppliance, type TestAppliance } from '../helpers/appliance.js';
import { deployingNodes, leakedSecrets, type Payloads, secretsIn, targetFor, tftpPort, writePayloads } from '../helpers/drill.js';
import { LossyTftpRelay, seeded } from '../helpers/lossy-udp.js';

const machines = machinesFor(20, '127.70');
const nodes = deployingNodes(machines);

describe('drill: packet loss on the TFTP path', () => {
  let t: TestAppliance;
  let p: Payloads;
  beforeAll(async () => {
    t = await startTestAppliance({ nodes }, { tftp: { enabled: true, port: 0 }, loader_dirs: [] });
    p = writePayloads(t.bootRoot, { loader: 128 * 1024, kernel: 64 * 1024, initrd: 128 * 1024 });
  });
  afterAll(async () => {
    await t.stop();
  });

  const transfers = () => t.log.entries().filter((e) => e.msg === 'tftp transfer');

  for (const [loss, seed] of [
    [0.01, 11],
    [0.05, 55],
  ] as const) {
    it(`${loss * 100} % loss both ways: all 20 machines boot with byte-exact loaders`, async () => {
      const relay = new LossyTftpRelay(tftpPort(t.app), loss, seeded(seed));
      const before = transfers().length;
      try {
        const port = await relay.start();
        // Firmware-like client: lock-step, retransmits after 300 ms (doubling), six tries.
        const { summary } = await runStorm(machines, targetFor(t.base, port, p, { tftpTimeoutMs: 300 }), 500);
        expect(summary.errors).toEqual([]);
        expect(summary.completed).toBe(20);
        // The loss was real: datagrams were dropped and someone retransmitted.
        expect(relay.stats.dropped).toBeGreaterThan(0);
        const server = transfers().slice(before);
        expect(summary.tftpRetransmits + server.reduce((n, e) => n + Number(e.retransmits ?? 0), 0)).toBeGreaterThan(0);
        // Each loader was one transfer on the server, and every one ended well.
        expect(server.filter((e) => e.outcome === 'ok').length).toBe(20);
      } finally {
        await relay.close();
      }
    }, 45_000);
  }

  it('logged no token and no answer-URL signature', () => {
    expect(leakedSecrets(t.log.text(), secretsIn(nodes))).toEqual([]);
  });
});
