import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { machinesFor, runStorm } from '../../support/storm-run.js';
import { encodeError, encodeRequest } from '../../../src/tftp/packet.js';
import { startTestAppliance, type TestAppliance, waitFor } from '../../support/appliance.js';
import { deployingNodes, leakedSecrets, NOBLE_DIR, type Payloads, secretsIn, targetFor, tftpPort, writePayloads } from '../../support/drill.js';
import { simulate } from '../../support/ipxe-sim.js';
import { RawClient } from '../../support/tftp-harness.js';

const machines = machinesFor(20, '127.20');
const nodes = deployingNodes(machines);

describe('TFTP admission: past tftp.max_transfers / max_per_client a client is told to retry', () => {
  let t: TestAppliance;
  let p: Payloads;
  const clients: RawClient[] = [];
  beforeAll(async () => {
    t = await startTestAppliance({ nodes }, { tftp: { enabled: true, port: 0, max_transfers: 3, max_per_client: 2 }, loader_dirs: [] });
    p = writePayloads(t.bootRoot);
  });
  afterEach(async () => {
    // End the held transfers (ERROR from the client side, RFC 1350 §7) so the next test starts at zero.
    for (const c of clients.splice(0)) {
      for (const m of c.inbox) c.socket.send(encodeError(0, 'test done'), m.port, '127.0.0.1');
      c.close();
    }
    await waitFor(async () => (await t.app.metrics.expose()).includes('edgeboot_tftp_active_transfers 0'), 5000, 'held transfers to end');
  });
  afterAll(async () => {
    await t.stop();
  });

  /** Send an RRQ for the loader from `address` and return the first answer (never ACKed: the transfer is held). */
  const hold = async (address: string) => {
    const c = await RawClient.open(address);
    clients.push(c);
    c.send(encodeRequest('rrq', p.loader.name, 'octet', [['blksize', '1468']]), tftpPort(t.app));
    const first = await c.next(2000);
    c.inbox.push(first);
    return first.packet;
  };

  it('the request past max_transfers gets ERROR 0 at once, not silence', async () => {
    for (const a of ['127.21.0.1', '127.21.0.2', '127.21.0.3']) expect((await hold(a))?.op).toBe('oack');
    const refused = await hold('127.21.0.4');
    expect(refused).toMatchObject({ op: 'error', code: 0, message: expect.stringMatching(/busy.*retry/) });
  });

  it('the request past max_per_client from one address gets ERROR 0 while others are served', async () => {
    expect((await hold('127.21.1.1'))?.op).toBe('oack');
    expect((await hold('127.21.1.1'))?.op).toBe('oack');
    expect(await hold('127.21.1.1')).toMatchObject({ op: 'error', code: 0, message: expect.stringMatching(/too many transfers from your address/) });
    expect((await hold('127.21.1.2'))?.op).toBe('oack');
  });

  it('a storm of 20 against 3 slots completes: machines told "busy" retry and every loader arrives intact', async () => {
    const { summary } = await runStorm(machines, targetFor(t.base, tftpPort(t.app), p), 200);
    expect(summary.errors).toEqual([]);
    expect(summary.completed).toBe(20);
    expect(summary.tftpBusy).toBeGreaterThan(0);
  });
});

describe('HTTP admission: past http.max_streams a file request gets 503 + Retry-After', () => {
  let t: TestAppliance;
  let p: Payloads;
  const held: ClientRequest[] = [];
  const big = `/${NOBLE_DIR}/squashfs`;
  beforeAll(async () => {
    t = await startTestAppliance({ nodes }, { http: { port: 0, listen: '127.0.0.1', max_streams: 2 }, tftp: { enabled: true, port: 0 }, loader_dirs: [] });
    p = writePayloads(t.bootRoot);
    // Larger than every socket buffer between the two ends, so an unread response keeps its stream open.
    writeFileSync(join(t.bootRoot, NOBLE_DIR, 'squashfs'), randomBytes(48 * 1024 * 1024));
  });
  afterAll(async () => {
    for (const r of held) r.destroy();
    await t.stop();
  });

  /** Start a download and stop reading it: the server's stream stays open. */
  const holdStream = () =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(`${t.base}${big}`, (res) => {
        res.pause();
        resolve(res);
      });
      req.on('error', reject);
      req.end();
      held.push(req);
    });
  const active = async () => Number(/edgeboot_http_active_streams (\d+)/.exec(await t.app.metrics.expose())?.[1]);

  it('the stream past the bound is answered 503 with an integer Retry-After iPXE understands, and one sentence', async () => {
    await holdStream();
    await holdStream();
    await waitFor(async () => (await active()) === 2, 5000, 'two open streams');
    const res = await fetch(`${t.base}/${NOBLE_DIR}/kernel`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await res.text()).toMatch(/maximum number of file streams; retry/);
  });

  it('scripts and answer files are never refused for a busy stream table', async () => {
    expect(await active()).toBe(2);
    const res = await fetch(`${t.base}/ipxe/node/${machines[0]!.mac.replace(/:/g, '-')}`);
    expect(res.status).toBe(200);
  });

  it('aborted downloads give their slots back', async () => {
    for (const r of held.splice(0)) r.destroy();
    await waitFor(async () => (await active()) === 0, 5000, 'slots released');
    const res = await fetch(`${t.base}/${NOBLE_DIR}/kernel`);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(p.kernel.size);
  });

  it('a storm of 20 against 2 streams completes: each 503 is waited out and every image arrives intact', async () => {
    // The storm's own images (1 MiB, sent from memory) fit the socket buffers and free their stream at once,
    // so two unread downloads hold both streams while the machines arrive, and are let go 1.5 s later.
    await holdStream();
    await holdStream();
    await waitFor(async () => (await active()) === 2, 5000, 'two open streams');
    const release = setTimeout(() => {
      for (const r of held.splice(0)) r.destroy();
    }, 1500);
    const { summary, results } = await runStorm(machines, targetFor(t.base, tftpPort(t.app), p), 200).finally(() => clearTimeout(release));
    expect(summary.errors).toEqual([]);
    expect(summary.completed).toBe(20);
    expect(summary.http503).toBeGreaterThan(0);
    expect(results.flatMap((r) => r.statuses).filter((s) => s !== 200 && s !== 503)).toEqual([]);
  }, 60_000);

  it('logged no token and no answer-URL signature', () => {
    expect(leakedSecrets(t.log.text(), secretsIn(nodes))).toEqual([]);
  });
});

describe('the shipped iPXE scripts retry a failed fetch with back-off instead of failing the boot', () => {
  let t: TestAppliance;
  const extra = [
    { system_id: 'adm-c', hostname: 'adm-commission', macs: ['52:54:00:ad:00:01'], arch: 'amd64/generic', status: 'commissioning' },
    { system_id: 'adm-r', hostname: 'adm-rescue', macs: ['52:54:00:ad:00:02'], arch: 'amd64/generic', status: 'rescue' },
  ];
  beforeAll(async () => {
    t = await startTestAppliance({ nodes: [...nodes.slice(0, 1), ...extra] }, { loader_dirs: [] });
  });
  afterAll(async () => {
    await t.stop();
  });
  const script = async (mac: string) => (await fetch(`${t.base}/ipxe/node/${mac.replace(/:/g, '-')}`)).text();
  const cases: Array<[string, string]> = [
    ['install', machines[0]!.mac],
    ['commission', '52:54:00:ad:00:01'],
    ['rescue', '52:54:00:ad:00:02'],
    ['enlist', '52:54:00:ad:00:ff'],
  ];

  for (const [purpose, mac] of cases) {
    it(`${purpose}: with every fetch failing it waits 1, 2, 4 … 64 s between tries and never ends the boot`, async () => {
      const text = await script(mac);
      expect(text).toContain(`${purpose} boot`);
      const run = simulate(text, { maxSleeps: 9 });
      expect(run.ended).toBe('patience');
      expect(run.sleeps).toEqual([1, 2, 4, 8, 16, 32, 64, 64, 64]);
    });
  }

  it('install: once edgeboot answers again, the retried script boots', async () => {
    let failures = 3;
    const run = simulate(await script(machines[0]!.mac), { maxSleeps: 20, fetchOk: () => failures-- <= 0 });
    expect(run.ended).toBe('boot');
    expect(run.sleeps).toEqual([1, 2, 4]);
  });

  it('the entry script keeps asking for the node script while it cannot be fetched', async () => {
    const run = simulate(await (await fetch(`${t.base}/boot.ipxe`)).text(), { maxSleeps: 5 });
    expect(run.ended).toBe('patience');
    expect(run.sleeps).toHaveLength(5);
  });
});
