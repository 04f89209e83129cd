import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seeded } from '../../support/lossy-udp.js';
import { CLIENTS, type ClientName, type Harness, run, startHarness } from '../../support/tftp-harness.js';

/**
 * A UDP proxy in front of the server that drops a share of the server's DATA packets. Each client gets its
 * own upstream socket; the server's transfer port is learned from its first reply.
 */
class LossyProxy {
  readonly front: Socket;
  fromServer = 0;
  dropped = 0;
  readonly #upstreams = new Map<string, { sock: Socket; serverPort?: number }>();

  private constructor(
    front: Socket,
    readonly serverPort: number,
    readonly loss: number,
    readonly rand: () => number,
  ) {
    this.front = front;
    front.on('message', (msg, rinfo) => this.#fromClient(msg, rinfo));
  }

  static async start(serverPort: number, loss: number, seed: number): Promise<LossyProxy> {
    const front = createSocket('udp4');
    await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
    return new LossyProxy(front, serverPort, loss, seeded(seed));
  }

  get port(): number {
    return this.front.address().port;
  }

  #fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    let up = this.#upstreams.get(key);
    if (!up) {
      const sock = createSocket('udp4');
      const entry: { sock: Socket; serverPort?: number } = { sock };
      sock.bind(0, '127.0.0.1');
      sock.on('message', (reply, from) => {
        entry.serverPort ??= from.port;
        this.fromServer++;
        if (reply.length >= 2 && reply.readUInt16BE(0) === 3 && this.rand() < this.loss) {
          this.dropped++;
          return;
        }
        this.front.send(reply, rinfo.port, rinfo.address);
      });
      this.#upstreams.set(key, entry);
      up = entry;
    }
    up.sock.send(msg, up.serverPort ?? this.serverPort, '127.0.0.1');
  }

  close(): void {
    this.front.close();
    for (const u of this.#upstreams.values()) u.sock.close();
  }
}

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

const BLKSIZE: Record<ClientName, number> = { 'tftp-hpa': 512, atftp: 1468, curl: 512, busybox: 512 };

describe('1 % DATA loss through a proxy', () => {
  it.each(Object.keys(CLIENTS) as ClientName[])(
    '%s still gets 1 MiB byte-exact within 2× the ideal packet count',
    async (client) => {
      const proxy = await LossyProxy.start(h.port, 0.01, 0x7f7f + client.length);
      try {
        const out = join(h.dir, `loss-${client}.bin`);
        const [cmd, args] = CLIENTS[client](proxy.port, 'one-m.bin', out);
        const r = await run(cmd, args, { timeoutMs: 50_000 });
        expect(r.code, r.stderr + r.stdout).toBe(0);
        expect(readFileSync(out).equals(h.files['one-m.bin']!)).toBe(true);
        const ideal = Math.floor(h.files['one-m.bin']!.length / BLKSIZE[client]) + 1 + 1; // blocks + OACK
        if (process.env.TFTP_TEST_REPORT) console.log(client, { fromServer: proxy.fromServer, dropped: proxy.dropped, ideal, ms: Math.round(r.ms) });
        expect(proxy.dropped).toBeGreaterThan(0);
        expect(proxy.fromServer).toBeLessThanOrEqual(2 * ideal);
      } finally {
        proxy.close();
      }
    },
    60_000,
  );
});
