import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { machinesFor, runStorm } from '../../support/storm-run.js';
import { startTestAppliance, type TestAppliance } from '../../support/appliance.js';
import { deployingNodes, leakedSecrets, type Payloads, secretsIn, targetFor, tftpPort, writePayloads } from '../../support/drill.js';
import { LossyTftpRelay, seeded } from '../../support/lossy-udp.js';

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
        const server = transfers().slice(before);
        const detail = JSON.stringify({ summary, relay: relay.stats, server: server.map((e) => `${e.outcome}/${e.retransmits}`) });
        expect(summary.errors, detail).toEqual([]);
        expect(summary.completed, detail).toBe(20);
        // The loss was real: datagrams were dropped and the server's retransmission path recovered them.
        expect(relay.stats.dropped, detail).toBeGreaterThan(0);
        expect(server.reduce((n, e) => n + Number(e.retransmits ?? 0), 0), detail).toBeGreaterThan(0);
      } finally {
        await relay.close();
      }
    }, 45_000);
  }

  it('logged no token and no answer-URL signature', () => {
    expect(leakedSecrets(t.log.text(), secretsIn(nodes))).toEqual([]);
  });
});
