import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { messageOf } from '../core/errors.js';
import { hasZoneId, isLinkLocal6 } from '../core/ip.js';
import { listAddresses } from '../net/interfaces.js';

/** A local address edgeboot answers TFTP requests on. */
export interface Endpoint {
  address: string;
  port: number;
  /** MTU of the interface holding the address: it bounds blksize (RFC 2348 §2). */
  mtu: number;
  socket: Socket;
}

/** What the listener set needs. */
export interface ListenerSetOptions {
  port: number;
  /** Where to listen, read on every sync; default every local IPv4 and non-link-local IPv6 address. */
  addresses?: () => readonly string[];
  log: Logger;
  onMessage(msg: Buffer, rinfo: RemoteInfo, endpoint: Endpoint): void;
}

/** Large receive buffers let a burst of requests (a rack powering on) queue instead of dropping. */
export const LISTENER_RCVBUF = 4 * 1024 * 1024;

/** Resolve an IP literal at once: dns.lookup would add a tick to every connect and unconnected send. */
export function literalLookup(address: string, _family: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  cb(null, address, isIP(address) === 6 ? 6 : 4);
}

/**
 * Every address TFTP listens on by default: each IPv4 address and each IPv6 address that is not link-local
 * (loopback included). Link-local addresses are left out: a socket on one needs a zone id, and the URLs and
 * DHCPv6 options that lead a client here name the global or unique-local address.
 */
export function localAddresses(): string[] {
  return listAddresses()
    .filter((a) => a.family === 'IPv4' || (!isLinkLocal6(a.address) && !hasZoneId(a.address)))
    .map((a) => a.address);
}

function interfaceMtu(address: string): number {
  // An alias label (eth0:1) shares its device's MTU.
  const iface = listAddresses()
    .find((a) => a.address === address)
    ?.iface.split(':')[0];
  if (!iface || !/^[\w.@-]+$/.test(iface)) return 1500;
  try {
    const mtu = Number(readFileSync(`/sys/class/net/${iface}/mtu`, 'utf8').trim());
    return Number.isInteger(mtu) && mtu >= 68 ? mtu : 1500;
  } catch {
    return 1500;
  }
}

/** Bind a UDP socket to `address:port`; resolves once bound. */
export function bindSocket(
  address: string,
  port: number,
  options: { recv?: number; send?: number; reuseAddr?: boolean } = {},
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({
      type: isIP(address) === 6 ? 'udp6' : 'udp4',
      // An IPv6 socket of ours serves IPv6 only: IPv4 clients have their own socket per address.
      ipv6Only: isIP(address) === 6,
      lookup: literalLookup,
      reuseAddr: options.reuseAddr ?? false,
      recvBufferSize: options.recv,
      sendBufferSize: options.send,
    });
    const onError = (err: Error) => {
      s.close();
      reject(err);
    };
    s.once('error', onError);
    s.bind({ address, port, exclusive: true }, () => {
      s.off('error', onError);
      resolve(s);
    });
  });
}

/** The two sockets of one transfer, sharing one local address and port (the server's transfer ID). */
export interface TransferSockets {
  /** Connected to the peer: sends skip per-packet address handling and receive only the peer's packets. */
  peer: Socket;
  /** Unconnected twin: the kernel hands it every datagram from anyone else, to be answered with error 5. */
  strangers: Socket;
}

/** Transfer sockets get a send buffer that holds the largest window several times over. */
const TRANSFER_SNDBUF = 1024 * 1024;

/**
 * Bind a transfer's socket pair on `local` (the address the client asked, RFC 1350 §4) and connect the
 * first to `peer`. SO_REUSEADDR lets both hold the port; UDP delivery prefers the connected socket for
 * the peer's own address and port, so strangers land on the twin.
 */
export async function transferSockets(local: string, peer: { address: string; port: number }): Promise<TransferSockets> {
  const main = await bindSocket(local, 0, { send: TRANSFER_SNDBUF, reuseAddr: true });
  try {
    const strangers = await bindSocket(local, main.address().port, { reuseAddr: true });
    try {
      await new Promise<void>((resolve, reject) => {
        main.once('error', reject);
        main.connect(peer.port, peer.address, () => {
          main.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      strangers.close();
      throw err;
    }
    return { peer: main, strangers };
  } catch (err) {
    main.close();
    throw err;
  }
}

/**
 * One listener per local address (never 0.0.0.0 or ::), so a reply leaves from the address the client
 * asked and rendered files can name it. `sync()` binds new addresses and closes vanished ones.
 */
export class ListenerSet {
  readonly #o: ListenerSetOptions;
  readonly #endpoints = new Map<string, Endpoint>();
  #syncing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: ListenerSetOptions) {
    this.#o = options;
  }

  /** Addresses the last sync could not bind, with the system's error code (EADDRINUSE: another TFTP server holds the port). */
  failures: Array<{ address: string; code: string }> = [];

  /** The endpoints listening now. */
  endpoints(): Endpoint[] {
    return [...this.#endpoints.values()];
  }

  /** Bring the listeners in line with the current addresses; serialised, never rejects. */
  sync(): Promise<void> {
    this.#syncing = this.#syncing.then(() => this.#sync());
    return this.#syncing;
  }

  async #sync(): Promise<void> {
    if (this.#closed) return;
    const wanted = new Set(this.#o.addresses?.() ?? localAddresses());
    const failures: Array<{ address: string; code: string }> = [];
    for (const [address, ep] of this.#endpoints) {
      if (wanted.has(address)) continue;
      this.#endpoints.delete(address);
      ep.socket.close();
      this.#o.log.info({ address, port: ep.port }, 'tftp stopped listening (address gone)');
    }
    for (const address of wanted) {
      if (this.#endpoints.has(address)) continue;
      try {
        const socket = await bindSocket(address, this.#o.port, { recv: LISTENER_RCVBUF });
        const ep: Endpoint = { address, port: socket.address().port, mtu: interfaceMtu(address), socket };
        socket.on('message', (msg, rinfo) => this.#o.onMessage(msg, rinfo, ep));
        socket.on('error', (err) => this.#o.log.warn({ address, err: messageOf(err) }, 'tftp listener error'));
        if (this.#closed) {
          socket.close();
          return;
        }
        this.#endpoints.set(address, ep);
        this.#o.log.info({ address, port: ep.port, mtu: ep.mtu }, 'tftp listening');
      } catch (err) {
        // The address may be gone already, or the port taken: try again on the next refresh.
        this.#o.log.error({ address, port: this.#o.port, err: messageOf(err) }, 'tftp cannot listen');
        failures.push({ address, code: (err as NodeJS.ErrnoException).code ?? 'error' });
      }
    }
    this.failures = failures;
  }

  /** Stop listening everywhere; running transfers keep their own sockets. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#syncing;
    for (const ep of this.#endpoints.values()) ep.socket.close();
    this.#endpoints.clear();
  }
}
