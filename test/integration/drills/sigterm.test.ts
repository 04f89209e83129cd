import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GetReply, get, machineAgent } from '../../support/storm-http.js';
import { machinesFor } from '../../support/storm-run.js';
import { type TftpGetResult, tftpGet } from '../../support/tftp-client.js';
import { encodeRequest, parsePacket } from '../../../src/tftp/packet.js';
import { type ChildAppliance, deployingNodes, leakedSecrets, NOBLE_DIR, type Payloads, secretsIn, startChildAppliance, writePayloads } from '../../support/drill.js';

const machines = machinesFor(24, '127.60');
const nodes = deployingNodes(machines);
const GRACE_MS = 10_000;

type Outcome<T> = { ok: true; value: T; at: number } | { ok: false; error: string; at: number };
const settle = <T>(p: Promise<T>): Promise<Outcome<T>> =>
  p.then(
    (value) => ({ ok: true as const, value, at: Date.now() }),
    (err: Error) => ({ ok: false as const, error: String((err as { code?: string }).code ?? err.message), at: Date.now() }),
  );

/** What a machine arriving after SIGTERM sees over TFTP: the first datagram, or nothing within `ms`. */
function lateRrq(port: number, file: string, from: string, ms = 1500): Promise<string> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const done = (what: string) => {
      clearTimeout(timer);
      s.close();
      resolve(what);
    };
    const timer = setTimeout(() => done('silence'), ms);
    s.on('error', (err) => done(`socket error ${(err as { code?: string }).code}`));
    s.on('message', (msg) => {
      const p = parsePacket(msg);
      done(p.ok ? p.packet.op : 'garbage');
    });
    s.bind(0, from, () => s.send(encodeRequest('rrq', file, 'octet'), port, '127.0.0.1'));
  });
}

describe('drill: SIGTERM mid-storm', () => {
  let eb: ChildAppliance;
  let p!: Payloads;
  let sentAt = 0;
  let exit: { code: number | null; signal: NodeJS.Signals | null; at: number };
  let images: Array<Outcome<GetReply>>;
  let straggler: Outcome<GetReply>;
  let loaders: Array<Outcome<TftpGetResult>>;
  let lateHttp: Outcome<GetReply>;
  let lateKeptAlive: Outcome<GetReply>;
  let lateTftp: string;

  beforeAll(async () => {
    eb = await startChildAppliance({ nodes }, (root) => {
      p = writePayloads(root, { loader: 256 * 1024, kernel: 256 * 1024, initrd: 16 * 1024 * 1024 });
      // Larger than the socket buffers between the two ends, so its response is still being written at the end.
      writeFileSync(join(root, NOBLE_DIR, 'squashfs'), randomBytes(32 * 1024 * 1024));
    });
    const initrd = `${eb.base}/${NOBLE_DIR}/initrd`;
    // 20 machines mid-initrd (16 MiB at 4 MiB/s: more than the socket buffers hold, so edgeboot is still
    // writing them), 3 mid-loader over TFTP (one block per 8 ms), and one straggler too slow to finish in the grace period.
    const imageRuns = machines.slice(0, 20).map((m) => settle(get(initrd, { agent: machineAgent(m.ip), localAddress: m.ip, hash: true, rateBytesPerSec: 4 * 1024 * 1024 })));
    const loaderRuns = machines.slice(20, 23).map((m) =>
      settle(tftpGet({ server: '127.0.0.1', port: eb.tftpPort, file: p.loader.name, localAddress: m.ip, hash: true, ackDelayMs: 8, timeoutMs: 1000 })),
    );
    const slow = machines[23]!;
    const stragglerAgent = machineAgent(slow.ip);
    const stragglerRun = settle(get(`${eb.base}/${NOBLE_DIR}/squashfs`, { agent: stragglerAgent, localAddress: slow.ip, rateBytesPerSec: 128 * 1024, idleTimeoutMs: 30_000 }));
    // A machine that fetched its script before the signal and still holds the kept-alive connection.
    const keptAgent = machineAgent('127.60.9.1');
    await get(`${eb.base}/boot.ipxe`, { agent: keptAgent, localAddress: '127.60.9.1', text: true });

    await new Promise((r) => setTimeout(r, 700));
    sentAt = Date.now();
    eb.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    lateHttp = await settle(get(`${eb.base}/boot.ipxe`, { agent: machineAgent('127.60.9.2'), localAddress: '127.60.9.2', text: true, idleTimeoutMs: 5000 }));
    lateKeptAlive = await settle(get(`${eb.base}/${NOBLE_DIR}/kernel`, { agent: keptAgent, localAddress: '127.60.9.1', idleTimeoutMs: 5000 }));
    lateTftp = await lateRrq(eb.tftpPort, p.loader.name, '127.60.9.3');

    images = await Promise.all(imageRuns);
    loaders = await Promise.all(loaderRuns);
    exit = await eb.exited;
    // Whatever the straggler still holds in its socket buffer is all it will ever get: stop reading.
    stragglerAgent.destroy();
    straggler = await stragglerRun;
  }, 60_000);
  afterAll(async () => {
    await eb?.stop();
  });

  it('every HTTP image transfer running at SIGTERM finished, complete and byte-exact', () => {
    for (const r of images) {
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect(r.value).toMatchObject({ status: 200, truncated: false, bytes: p.initrd.size, sha256: p.initrd.sha256 });
      expect(r.at).toBeGreaterThan(sentAt);
    }
  });

  it('every TFTP transfer running at SIGTERM finished byte-exact', () => {
    for (const r of loaders) {
      expect(r.ok, r.ok ? '' : r.error).toBe(true);
      if (r.ok) expect(r.value).toMatchObject({ bytes: p.loader.size, sha256: p.loader.sha256 });
    }
  });

  it('a new HTTP connection after SIGTERM is refused (connection refused, or 503 with Retry-After)', () => {
    if (lateHttp.ok) expect(lateHttp.value.status).toBe(503);
    else expect(lateHttp.error).toBe('ECONNREFUSED');
  });

  it('a new request on a kept-alive connection after SIGTERM starts no transfer', () => {
    if (lateKeptAlive.ok) expect(lateKeptAlive.value.status).toBe(503);
    else expect(['ECONNRESET', 'ECONNREFUSED', 'socket hang up']).toContain(lateKeptAlive.error);
  });

  it('a new TFTP request after SIGTERM is refused at once with an ERROR (not silence a ROM would wait out)', () => {
    expect(lateTftp).toBe('error');
  });

  it('a transfer that cannot finish is cut at the grace period and edgeboot exits 0 within it', () => {
    expect(straggler.ok && !straggler.value.truncated).toBe(false);
    expect(exit.code).toBe(0);
    expect(exit.at - sentAt).toBeGreaterThan(GRACE_MS - 1000);
    expect(exit.at - sentAt).toBeLessThan(GRACE_MS + 2500);
  });

  it('logged the stop and no token or answer-URL signature', () => {
    expect(eb.logText()).toContain('stopping: letting running transfers finish');
    expect(leakedSecrets(eb.logText(), secretsIn(nodes))).toEqual([]);
  });
});
