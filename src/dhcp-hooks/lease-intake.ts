import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { EdgebootError, messageOf } from '../core/errors.js';
import { isIpv4 } from '../core/ip.js';
import { type MacAddress, parseMac, printable } from '../core/mac.js';
import type { Node } from '../core/node.js';
import type { Service } from '../core/service.js';
import type { SystemUuid } from '../core/uuid.js';
import type { DiscoveryLog } from '../observe/discoveries.js';
import type { LeaseBook, LeaseFacts } from '../observe/lease-book.js';
import { parseClientUuid } from './client-facts.js';
import { archName } from './dhcp-options.js';
import { loadOrCreateLeaseSecret, secretMatches } from './lease-secret.js';

/** A validated lease event: the lease facts plus which server sent it and what happened. */
export interface AcceptedLease extends LeaseFacts {
  server: string;
  event: string;
  /** False for release/expiry/decline: the address is no longer the client's. */
  active: boolean;
  uuid?: SystemUuid;
}

const ENDED = new Set(['del', 'lease4_release', 'lease4_expire', 'lease4_decline', 'release', 'expiry']);
const MAX_LINE = 4096;

function text(v: unknown, field: string, max = 255): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new EdgebootError('E_DHCP', `${field} must be a string`);
  // Stored values reach logs and the region: printable ASCII only, bounded.
  return printable(v, max);
}

/** Validate one decoded report (after the secret check): MAC normalised, IPv4 checked, strings bounded. */
export function acceptReport(raw: unknown): AcceptedLease {
  if (typeof raw !== 'object' || raw === null) throw new EdgebootError('E_DHCP', 'a lease report must be a JSON object');
  const r = raw as Record<string, unknown>;
  if (r.v !== 1) throw new EdgebootError('E_DHCP', 'unsupported lease report version');
  const mac = parseMac(String(r.mac ?? ''));
  const ip = String(r.ip ?? '');
  if (!isIpv4(ip)) throw new EdgebootError('E_DHCP', `"${printable(ip)}" is not an IPv4 address`);
  const event = text(r.event, 'event', 40) ?? 'unknown';
  const arches = Array.isArray(r.arches) ? r.arches.filter((a): a is number => Number.isInteger(a) && a >= 0 && a <= 0xffff) : [];
  const uuidHex = typeof r.uuidHex === 'string' && /^[0-9a-f]{34}$/.test(r.uuidHex) ? r.uuidHex : undefined;
  return {
    server: text(r.server, 'server', 16) ?? 'unknown',
    event,
    active: !ENDED.has(event),
    mac,
    ip,
    hostname: text(r.hostname, 'hostname', 253),
    arch: archName(arches[0]),
    vendorClass: text(r.vendorClass, 'vendorClass'),
    userClass: text(r.userClass, 'userClass'),
    uuid: uuidHex ? parseClientUuid(Buffer.from(uuidHex, 'hex')) : undefined,
  };
}

/** What the intake is composed from. */
export interface LeaseIntakeOptions {
  socketPath: string;
  secretFile: string;
  leases: LeaseBook;
  discoveries: DiscoveryLog;
  /** Read side of the node store: the node owning a MAC, and whether any snapshot is loaded. */
  nodes: { byMac(mac: MacAddress): Node | undefined; readonly loaded: boolean };
  log: Logger;
  /** Log a failure to start instead of failing the appliance (HTTP and TFTP boot work without the intake). */
  optional?: boolean;
}

/**
 * Listens on a Unix socket (mode 0666, never on the network) for lease reports from the hook, checks
 * the shared secret, records the lease, and treats an unknown MAC as a discovery.
 */
export class LeaseIntake implements Service {
  readonly name = 'dhcp-lease-intake';
  readonly #o: LeaseIntakeOptions;
  #server: Server | undefined;
  #secret = '';
  readonly #sockets = new Set<Socket>();

  constructor(options: LeaseIntakeOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    try {
      await this.#listen();
    } catch (err) {
      if (!this.#o.optional) throw err;
      this.#o.log.error({ err: messageOf(err), socket: this.#o.socketPath }, 'lease intake not started: DHCP lease events will not be recorded');
    }
  }

  async #listen(): Promise<void> {
    this.#secret = await loadOrCreateLeaseSecret(this.#o.secretFile);
    const path = this.#o.socketPath;
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await removeStaleSocket(path);
    const server = createServer((sock) => this.#handle(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.#o.log.error({ err: messageOf(err) }, 'lease intake socket error'));
    // Any local user may connect; only holders of the secret are believed.
    await chmod(path, 0o666);
    this.#server = server;
    this.#o.log.info({ socket: path }, 'lease intake listening');
  }

  async stop(graceMs: number): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const s of this.#sockets) s.destroy();
        resolve();
      }, graceMs);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await unlink(this.#o.socketPath).catch(() => undefined);
  }

  #handle(sock: Socket): void {
    this.#sockets.add(sock);
    sock.setTimeout(2_000, () => sock.destroy());
    sock.on('close', () => this.#sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl === -1 && buf.length <= MAX_LINE) return;
      sock.removeAllListeners('data');
      if (nl === -1 || nl > MAX_LINE) {
        sock.end('error report too long\n');
        return;
      }
      sock.end(`${this.#process(buf.slice(0, nl))}\n`);
    });
  }

  /** Handle one report line; returns the reply line. Never throws. */
  #process(line: string): string {
    const log = this.#o.log;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      log.warn('lease report is not JSON');
      return 'error not JSON';
    }
    if (!secretMatches((raw as { secret?: unknown } | null)?.secret, this.#secret)) {
      log.warn('lease report with a wrong secret refused');
      return 'error wrong secret';
    }
    let lease: AcceptedLease;
    try {
      lease = acceptReport(raw);
    } catch (err) {
      log.warn({ err: messageOf(err) }, 'lease report refused');
      return `error ${messageOf(err)}`;
    }
    const { mac, ip, arch, server, event } = lease;
    if (!lease.active) {
      log.info({ mac, ip, server, event }, 'lease ended');
      return 'ok';
    }
    // Leave out what this event did not carry: a renewal from the installed OS keeps the firmware's arch.
    const facts = { hostname: lease.hostname, arch, vendorClass: lease.vendorClass, userClass: lease.userClass, uuid: lease.uuid };
    const known = Object.fromEntries(Object.entries(facts).filter(([, v]) => v !== undefined));
    this.#o.leases.record({ mac, ip, ...known });
    const isNode = this.#o.nodes.byMac(mac) !== undefined;
    if (!isNode && this.#o.nodes.loaded) this.#o.discoveries.see({ mac, ip, arch, uuid: lease.uuid, via: 'dhcp' });
    log.info({ mac, ip, arch, server, event, known: isNode }, 'lease recorded');
    return 'ok';
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.setTimeout(500, () => c.destroy());
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
    c.once('close', () => resolve(false));
  });
}

/** Remove a socket file left by a previous run; refuse to remove anything that is not a socket or that still answers. */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new EdgebootError('E_CONFIG', `${path} exists and is not a socket; refusing to replace it`);
    if (await answers(path)) throw new EdgebootError('E_CONFIG', `another process is listening on ${path}`);
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
