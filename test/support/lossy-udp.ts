import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';

/** A seeded PRNG (mulberry32), so a lossy run drops the same datagrams each time. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bind(address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, address, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

interface Session {
  /** Towards the server, bound on the client's own address so the server still sees one address per machine. */
  up: Socket;
  /** Towards the client: the client takes its port as the server's transfer ID. */
  down: Socket;
  serverTid?: number;
}

/**
 * A UDP relay in front of a TFTP server that drops a share of datagrams in both directions. TFTP moves
 * each transfer to a new server port (RFC 1350 §4), so the relay keeps a socket pair per client.
 */
export class LossyTftpRelay {
  readonly stats = { forwarded: 0, dropped: 0 };
  readonly #sessions = new Map<string, Promise<Session>>();
  #listener: Socket | undefined;

  constructor(
    readonly serverPort: number,
    readonly loss: number,
    readonly random: () => number = seeded(1),
  ) {}

  /** Listen on 127.0.0.1; resolves with the port clients send their RRQs to. */
  async start(): Promise<number> {
    const l = await bind('127.0.0.1');
    this.#listener = l;
    l.on('message', (msg, rinfo) => {
      void this.#session(rinfo).then((s) => this.#pass(msg, s.up, this.serverPort));
    });
    return l.address().port;
  }

  #pass(msg: Buffer, via: Socket, port: number, address = '127.0.0.1'): void {
    if (this.random() < this.loss) {
      this.stats.dropped++;
      return;
    }
    this.stats.forwarded++;
    via.send(msg, port, address);
  }

  #session(client: RemoteInfo): Promise<Session> {
    const key = `${client.address}:${client.port}`;
    let s = this.#sessions.get(key);
    if (!s) {
      s = (async () => {
        const session: Session = { up: await bind(client.address), down: await bind('127.0.0.1') };
        session.up.on('message', (msg, from) => {
          session.serverTid = from.port;
          this.#pass(msg, session.down, client.port, client.address);
        });
        session.down.on('message', (msg) => this.#pass(msg, session.up, session.serverTid ?? this.serverPort));
        return session;
      })();
      this.#sessions.set(key, s);
    }
    return s;
  }

  async close(): Promise<void> {
    this.#listener?.close();
    for (const s of this.#sessions.values()) {
      const session = await s;
      session.up.close();
      session.down.close();
    }
    this.#sessions.clear();
  }
}
