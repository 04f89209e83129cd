import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';
import type { Logger } from 'pino';
import { messageOf } from '../core/errors.js';
import type { Counter, MetricsRegistry } from '../core/metrics.js';
import type { Service } from '../core/service.js';
import type { LocalAddress } from '../net/interfaces.js';
import type { BootPlan } from './boot-plan.js';
import { decodeDhcp, encodeDhcp } from './dhcp-packet.js';
import { messageTypeName } from './dhcp-options.js';
import { type ProxyPort, proxyAnswer } from './proxy-answer.js';
import { type RouteLookup, addressTowards, cachedRoute, kernelRoute } from './proxy-route.js';

/** What the proxyDHCP responder is composed from. */
export interface ProxyDhcpOptions {
  /** The boot plan for clients reached through local address `address`; undefined when none can be made. */
  planFor(address: string): BootPlan | undefined;
  addresses(): LocalAddress[];
  log: Logger;
  metrics?: MetricsRegistry;
  /** Address to bind; `0.0.0.0` (default) hears broadcasts. A unicast address serves relays and tests. */
  listen?: string;
  port?: number;
  pxePort?: number;
  clientPort?: number;
  /** Where a bound-to-unicast responder sends its OFFERs; default 255.255.255.255. */
  broadcastAddress?: string;
  /** Interfaces to answer on (default: every one with a non-loopback IPv4 address). */
  interfaces?: readonly string[];
  /** How a relay's giaddr or a unicast client is reached (default: the kernel's routing table). */
  route?: RouteLookup;
  /** The port relays listen on for server replies (RFC 1542 §4.1.2: 67); tests use another. */
  relayPort?: number;
}

/** One socket per local address, bound to `<address>:67` and connected to 255.255.255.255:68, used only to send. */
interface Outlet {
  address: string;
  socket: Socket;
}

function bindSocket(port: number, address: string, reuse: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4', reuseAddr: reuse });
    s.once('error', reject);
    s.bind(port, address, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

/**
 * A send-only socket bound to `<address>:port` and connected to 255.255.255.255:clientPort. Binding the
 * source address makes Linux send the limited broadcast out of that address's interface; being connected,
 * it never receives, so unicast to `<address>:67` still reaches a DHCP server on the same host.
 */
async function openOutlet(port: number, address: string, clientPort: number): Promise<Socket> {
  const s = await bindSocket(port, address, true);
  try {
    s.setBroadcast(true);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.connect(clientPort, '255.255.255.255', () => {
        s.off('error', reject);
        resolve();
      });
    });
    return s;
  } catch (err) {
    s.close();
    throw err;
  }
}

/**
 * proxyDHCP (PXE 2.1 §2.2.5): listens on UDP 67 and 4011 beside the site's DHCP server and answers
 * PXE/HTTP boot clients with boot server and file only. Every datagram handler catches: malformed
 * input is counted and dropped, and the listener keeps serving.
 */
export class ProxyDhcp implements Service {
  readonly name = 'proxy-dhcp';
  readonly #o: ProxyDhcpOptions;
  #main: Socket | undefined;
  #pxe: Socket | undefined;
  #outlets: Outlet[] = [];
  readonly #packets: Counter | undefined;
  readonly #route: RouteLookup;

  constructor(options: ProxyDhcpOptions) {
    this.#o = options;
    this.#route = cachedRoute(options.route ?? kernelRoute);
    this.#packets = options.metrics?.counter('edgeboot_proxydhcp_packets_total', 'proxyDHCP datagrams by port and outcome.', ['port', 'outcome']);
  }

  /** The bound ports (useful when 0 was asked for). */
  ports(): { dhcp: number; pxe: number } {
    return { dhcp: this.#main?.address().port ?? 0, pxe: this.#pxe?.address().port ?? 0 };
  }

  get #listen(): string {
    return this.#o.listen ?? '0.0.0.0';
  }

  async start(): Promise<void> {
    // reuseAddr: the site's DHCP server (dnsmasq, Kea) may hold port 67 on the same host.
    this.#main = await bindSocket(this.#o.port ?? 67, this.#listen, true);
    this.#pxe = await bindSocket(this.#o.pxePort ?? 4011, this.#listen, false);
    this.#main.setBroadcast(true);
    this.#main.on('message', (msg, rinfo) => this.#receive(msg, rinfo, 'dhcp'));
    this.#pxe.on('message', (msg, rinfo) => this.#receive(msg, rinfo, 'pxe'));
    for (const s of [this.#main, this.#pxe]) s.on('error', (err) => this.#o.log.error({ err: messageOf(err) }, 'proxyDHCP socket error'));
    await this.#openOutlets();
    this.#o.log.info({ listen: this.#listen, ...this.ports(), outlets: this.#outlets.map((o) => o.address) }, 'proxyDHCP listening');
  }

  async reload(): Promise<void> {
    this.#closeOutlets();
    await this.#openOutlets();
  }

  async stop(): Promise<void> {
    this.#closeOutlets();
    for (const s of [this.#main, this.#pxe]) s?.close();
    this.#main = undefined;
    this.#pxe = undefined;
  }

  /**
   * Broadcast replies must leave through the client's interface: one sending socket per local address does
   * that. Called at start, on reload, and before each broadcast answer for addresses that appeared since
   * (an interface without carrier lists no address, e.g. a bridge whose ports come up after edgeboot).
   */
  async #openOutlets(): Promise<void> {
    if (this.#listen !== '0.0.0.0') return;
    const wanted = this.#o.interfaces;
    const have = new Set(this.#outlets.map((o) => o.address));
    const addrs = this.#o
      .addresses()
      .filter((a) => a.family === 'IPv4' && !a.internal && (!wanted?.length || wanted.includes(a.iface)) && !have.has(a.address));
    for (const a of addrs) {
      try {
        const socket = await openOutlet(this.#o.port ?? 67, a.address, this.#o.clientPort ?? 68);
        socket.on('error', (err: Error) => this.#o.log.warn({ err: messageOf(err), address: a.address }, 'proxyDHCP outlet error'));
        this.#outlets.push({ address: a.address, socket });
      } catch (err) {
        this.#o.log.warn({ err: messageOf(err), address: a.address }, 'proxyDHCP cannot answer through this address');
      }
    }
  }

  #closeOutlets(): void {
    for (const o of this.#outlets.splice(0)) o.socket.close();
  }

  #receive(msg: Buffer, rinfo: RemoteInfo, port: ProxyPort): void {
    this.#handle(msg, rinfo, port).catch((err: unknown) => {
      this.#packets?.inc({ port, outcome: 'error' });
      this.#o.log.debug({ peer: rinfo.address, err: messageOf(err) }, 'proxyDHCP dropped a datagram');
    });
  }

  async #handle(msg: Buffer, rinfo: RemoteInfo, port: ProxyPort): Promise<void> {
    const req = decodeDhcp(msg);
    const broadcast = port === 'dhcp' && req.giaddr === '0.0.0.0' && this.#listen === '0.0.0.0';
    if (broadcast && this.#main) await this.#openOutlets();
    if (!this.#main) return;
    const relayed = req.giaddr !== '0.0.0.0';
    const unicastListen = this.#listen !== '0.0.0.0';
    // The next-server must be the address the client can reach: for a relayed request that is the one the
    // routing table uses towards giaddr (the relay's address on the client's subnet), not the address the
    // relay happened to send to; a 4011 request names the client's side by its source address.
    let facing: string | undefined;
    if (relayed) facing = await addressTowards(req.giaddr, this.#o.addresses(), this.#route);
    else if (unicastListen) facing = this.#listen;
    else if (port === 'pxe') facing = await addressTowards(rinfo.address, this.#o.addresses(), this.#route);
    const targets: Array<{ address: string; send: (b: Buffer) => void }> = [];
    if (port === 'pxe') {
      if (facing) targets.push({ address: facing, send: (b) => this.#pxe?.send(b, rinfo.port, rinfo.address) });
    } else if (relayed) {
      // RFC 1542 §4.1.2: replies to a relayed request go to the relay at giaddr, server port.
      if (facing) targets.push({ address: facing, send: (b) => this.#main?.send(b, this.#o.relayPort ?? 67, req.giaddr) });
    } else if (unicastListen) {
      const to = this.#o.broadcastAddress ?? '255.255.255.255';
      targets.push({ address: this.#listen, send: (b) => this.#main?.send(b, this.#o.clientPort ?? 68, to) });
    } else {
      for (const o of this.#outlets) targets.push({ address: o.address, send: (b) => o.socket.send(b) });
    }
    if (!targets.length) this.#o.log.debug({ peer: rinfo.address, giaddr: req.giaddr }, 'proxyDHCP has no local address towards this client');
    let answered = false;
    for (const t of targets) {
      const plan = this.#o.planFor(t.address);
      if (!plan) continue;
      const d = proxyAnswer(req, port, plan);
      if ('ignore' in d) {
        this.#packets?.inc({ port, outcome: 'ignored' });
        this.#o.log.debug({ peer: rinfo.address, mac: d.facts?.mac, reason: d.ignore }, 'proxyDHCP ignored a request');
        return;
      }
      t.send(encodeDhcp(d.answer));
      answered = true;
      this.#o.log.info(
        { mac: d.facts.mac, arch: d.facts.arches[0], via: t.address, ...(relayed ? { giaddr: req.giaddr } : {}), port, file: d.rule.filename, type: messageTypeName(d.facts.messageType) },
        'proxyDHCP answered',
      );
    }
    this.#packets?.inc({ port, outcome: answered ? 'answered' : 'no-route' });
  }
}
