import type { RemoteInfo } from 'node:dgram';
import type { Logger } from 'pino';
import type { BootService } from '../boot/boot-service.js';
import type { OpenFiles } from '../files/open-files.js';
import { EdgebootError, messageOf } from '../core/errors.js';
import { urlHost } from '../core/ip.js';
import { printable } from '../core/mac.js';
import { classifyFile } from '../observe/classify.js';
import { maskCapability } from '../observe/not-found.js';
import type { MetricsRegistry } from '../core/metrics.js';
import type { Service } from '../core/service.js';
import { FileCache } from './file-cache.js';
import { type Endpoint, ListenerSet, transferSockets } from './listeners.js';
import { type TftpMetrics, tftpMetrics } from './metrics.js';
import { negotiate } from './options.js';
import { MAX_BLKSIZE, TFTP_ERROR, encodeError, parsePacket } from './packet.js';
import { TokenBucket } from './rate-limit.js';
import { type Resolved, errorFor, resolveSource } from './source.js';
import { type Outcome, Transfer } from './transfer.js';

/** Everything the TFTP service is composed from (config `tftp` block plus the shared parts). */
export interface TftpServiceOptions {
  boot: BootService;
  bootRoot: string;
  loaderDirs: readonly string[];
  log: Logger;
  metrics: MetricsRegistry;
  port: number;
  /**
   * Listen only on these IPv4 addresses (tests), or on what a function returns at each refresh; default every
   * local IPv4 address, re-read every `pollMs` and on reload.
   */
  addresses?: readonly string[] | (() => readonly string[]);
  maxTransfers: number;
  maxPerClient: number;
  maxBlksize: number;
  maxWindowsize: number;
  retries: number;
  cacheBytes: number;
  /** Files being sent, so image sync never removes one mid-transfer. */
  openFiles?: OpenFiles;
  /** Files up to this size are cached in memory; larger ones are streamed. */
  cacheFileBytes?: number;
  /** How often local addresses are re-read (ms). */
  pollMs?: number;
}

/** IPv4 (20) + UDP (8) + TFTP DATA header (4): what an MTU-sized datagram leaves for a block. */
const DATA_OVERHEAD = 32;

const PENDING = Symbol('pending');

/**
 * The TFTP edge (RFC 1350, 2347–2349, 7440): read-only, one listener per local address, a socket per
 * transfer bound to the same address, limits answered with ERROR packets, graceful stop.
 */
export class TftpService implements Service {
  readonly #closeFile = new Map<string, () => void>();
  readonly name = 'tftp';
  readonly #o: TftpServiceOptions;
  readonly #log: Logger;
  readonly #m: TftpMetrics;
  readonly #cache: FileCache;
  readonly #listeners: ListenerSet;
  readonly #active = new Map<string, Transfer | typeof PENDING>();
  // The metric is for scrapes; tests and the fuzz report read this count synchronously.
  #received = 0;
  readonly #perClient = new Map<string, number>();
  /** Error replies to strangers and bad requests are rate-limited so edgeboot is no reflector. */
  readonly #errorBudget = new TokenBucket(1000, 200);
  #poll?: NodeJS.Timeout;
  #stopping = false;
  #drained?: () => void;

  constructor(options: TftpServiceOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#cache = new FileCache({ maxFileBytes: options.cacheFileBytes ?? 8 * 1024 * 1024, maxTotalBytes: options.cacheBytes });
    this.#m = tftpMetrics(options.metrics, () => this.#active.size, () => this.#cache.bytes);
    const fixed = options.addresses;
    this.#listeners = new ListenerSet({
      port: options.port,
      addresses: typeof fixed === 'function' ? fixed : fixed ? () => fixed : undefined,
      log: options.log,
      onMessage: (msg, rinfo, ep) => this.#onRequest(msg, rinfo, ep),
    });
  }

  /** The endpoints listening now (address, port, MTU). */
  endpoints(): Array<{ address: string; port: number; mtu: number }> {
    return this.#listeners.endpoints().map(({ address, port, mtu }) => ({ address, port, mtu }));
  }

  /** Transfers running or being prepared. */
  get active(): number {
    return this.#active.size;
  }

  /** Datagrams received on the listeners since start. */
  get received(): number {
    return this.#received;
  }

  async start(): Promise<void> {
    await this.#listeners.sync();
    if (this.#listeners.endpoints().length === 0) {
      // Port 69 without CAP_NET_BIND_SERVICE, or the port taken: the operator must change something.
      throw new EdgebootError('E_CONFIG', `tftp could not listen on port ${this.#o.port} on any local address; the log says why`);
    }
    // Another server holding the port on some addresses (tftpd-hpa on IPv4, say) would split the clients
    // between two servers: refuse to start rather than serve half. An address that is not usable yet (IPv6
    // duplicate address detection) is only retried.
    const clash = this.#listeners.failures.find((f) => f.code === 'EADDRINUSE' || f.code === 'EACCES');
    if (clash) {
      await this.#listeners.close();
      throw new EdgebootError('E_CONFIG', `tftp could not listen on ${clash.address} port ${this.#o.port} (${clash.code === 'EACCES' ? 'permission denied' : 'another program holds it'}); stop that program or change tftp.port`);
    }
    if (!Array.isArray(this.#o.addresses)) {
      this.#poll = setInterval(() => void this.#listeners.sync(), this.#o.pollMs ?? 10_000);
      this.#poll.unref();
    }
  }

  async reload(): Promise<void> {
    this.#cache.clear();
    await this.#listeners.sync();
  }

  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#poll) clearInterval(this.#poll);
    // Listeners stay open while running transfers drain, so a new RRQ gets ERROR "shutting down" at once
    // (rate-limited) instead of silence a PXE ROM would wait out.
    if (this.#active.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        timer.unref();
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const t of this.#active.values()) if (t !== PENDING) t.abort('server shutting down');
    await this.#listeners.close();
  }

  /** Answer with ERROR unless the budget is spent; false when the datagram was dropped instead. */
  #reply(ep: Endpoint, rinfo: RemoteInfo, code: number, message: string): boolean {
    if (!this.#errorBudget.take()) {
      this.#m.dropped.inc({ reason: 'rate-limited' });
      return false;
    }
    this.#m.errors.inc({ code: String(code) });
    ep.socket.send(encodeError(code, message), rinfo.port, rinfo.address);
    return true;
  }

  /** Every datagram at a listener lands here; nothing thrown escapes (bad input is an outcome). */
  #onRequest(msg: Buffer, rinfo: RemoteInfo, ep: Endpoint): void {
    this.#m.received.inc();
    this.#received++;
    try {
      const parsed = parsePacket(msg);
      if (!parsed.ok) {
        // Never answer an ERROR with an ERROR: two servers could ping-pong forever.
        if (msg.length >= 2 && msg.readUInt16BE(0) === 5) return;
        this.#reply(ep, rinfo, TFTP_ERROR.illegalOperation, `malformed request: ${parsed.reason}`);
        return;
      }
      const p = parsed.packet;
      if (p.op === 'rrq') {
        this.#read(p.file, p.mode, p.options, rinfo, ep).catch((err: unknown) => this.#log.error({ err: messageOf(err) }, 'tftp request failed'));
      } else if (p.op === 'wrq') {
        this.#m.refused.inc({ code: String(TFTP_ERROR.accessViolation) });
        this.#reply(ep, rinfo, TFTP_ERROR.accessViolation, 'edgeboot is read-only: uploads are refused');
      } else if (p.op !== 'error') {
        this.#reply(ep, rinfo, TFTP_ERROR.unknownTid, 'unknown transfer ID');
      }
    } catch (err) {
      this.#log.error({ err: messageOf(err) }, 'tftp listener failed on a datagram');
    }
  }

  #refuse(ep: Endpoint, rinfo: RemoteInfo, code: number, message: string, log: Logger, level: 'info' | 'debug' = 'info', line = 'tftp request refused'): void {
    this.#m.refused.inc({ code: String(code) });
    // Logged only when answered, so a flood of bad requests cannot flood the journal either.
    if (this.#reply(ep, rinfo, code, message)) log[level]({ code, reason: message, proto: 'tftp' }, line);
  }

  /**
   * A file that does not exist: one info line and a timeline event, since it is usually why a boot
   * stopped; shim's optional probes and PXELINUX's config search are expected misses, logged at debug.
   */
  #notFound(ep: Endpoint, rinfo: RemoteInfo, file: string, message: string, log: Logger): void {
    const { level } = this.#o.boot.noteMiss(rinfo.address, file, 'tftp');
    this.#refuse(ep, rinfo, TFTP_ERROR.fileNotFound, message, log, level, 'file not found');
  }


  async #read(file: string, modeRaw: string, options: [string, string][], rinfo: RemoteInfo, ep: Endpoint): Promise<void> {
    const key = `${rinfo.address}:${rinfo.port}`;
    // A client may ask TFTP for an answer-file path; its capability never reaches the log.
    // The log names the peer as a URL authority would (`[2001:db8::5]:1234`), so an IPv6 port is unambiguous.
    const log = this.#log.child({ peer: `${urlHost(rinfo.address)}:${rinfo.port}`, file: printable(maskCapability(file), 200) });
    // A retransmitted RRQ from a peer already being served belongs to that transfer.
    if (this.#active.has(key)) {
      this.#m.dropped.inc({ reason: 'duplicate-request' });
      return;
    }
    if (this.#stopping) return this.#refuse(ep, rinfo, TFTP_ERROR.notDefined, 'server is shutting down', log);
    if (this.#active.size >= this.#o.maxTransfers) {
      return this.#refuse(ep, rinfo, TFTP_ERROR.notDefined, 'server busy: too many transfers, retry later', log);
    }
    const count = this.#perClient.get(rinfo.address) ?? 0;
    if (count >= this.#o.maxPerClient) {
      return this.#refuse(ep, rinfo, TFTP_ERROR.notDefined, 'too many transfers from your address, retry later', log);
    }
    const mode = modeRaw.toLowerCase();
    if (mode !== 'octet' && mode !== 'netascii') {
      return this.#refuse(ep, rinfo, TFTP_ERROR.illegalOperation, `transfer mode "${printable(modeRaw)}" is not supported`, log);
    }
    this.#active.set(key, PENDING);
    this.#perClient.set(rinfo.address, count + 1);
    let resolved: Resolved;
    try {
      resolved = await resolveSource(file, mode === 'netascii', { clientIp: rinfo.address, localAddress: ep.address }, {
        boot: this.#o.boot,
        root: this.#o.bootRoot,
        loaderDirs: this.#o.loaderDirs,
        cache: this.#cache,
      });
      const negotiated = negotiate(options, resolved.size, {
        maxBlksize: Math.min(this.#o.maxBlksize, ep.mtu - DATA_OVERHEAD, MAX_BLKSIZE),
        maxWindowsize: this.#o.maxWindowsize,
      });
      const content = await resolved.open(negotiated.blksize);
      const peer = { address: rinfo.address, port: rinfo.port };
      const sockets = await transferSockets(ep.address, peer).catch((err: unknown) => {
        content.close();
        throw err;
      });
      if (this.#stopping) {
        content.close();
        sockets.peer.close();
        sockets.strangers.close();
        throw new EdgebootError('E_BUSY', 'server is shutting down');
      }
      const t = new Transfer({
        sockets,
        peer,
        content,
        negotiated,
        retries: this.#o.retries,
        log,
        metrics: this.#m,
        strangers: this.#errorBudget,
        onDone: (done, outcome) => this.#done(key, rinfo.address, file, done, outcome, log, resolved, mode),
      });
      this.#active.set(key, t);
      if (resolved.path !== 'rendered' && this.#o.openFiles) this.#closeFile.set(key, this.#o.openFiles.open(resolved.path));
      log.debug({ options, blksize: negotiated.blksize, windowsize: negotiated.windowsize, size: resolved.size }, 'transfer starting');
      t.start();
    } catch (err) {
      this.#release(key, rinfo.address);
      const e = errorFor(err);
      if (e.fault) log.error({ err: messageOf(err) }, 'tftp request failed');
      if (e.code === TFTP_ERROR.fileNotFound) this.#notFound(ep, rinfo, file, e.message, log);
      else this.#refuse(ep, rinfo, e.code, e.message, log);
    }
  }

  #release(key: string, ip: string): void {
    this.#active.delete(key);
    this.#closeFile.get(key)?.();
    this.#closeFile.delete(key);
    const n = (this.#perClient.get(ip) ?? 1) - 1;
    if (n > 0) this.#perClient.set(ip, n);
    else this.#perClient.delete(ip);
    if (this.#active.size === 0) this.#drained?.();
  }

  #done(key: string, ip: string, file: string, t: Transfer, outcome: Outcome, log: Logger, resolved: Resolved, mode: string): void {
    this.#release(key, ip);
    const summary = t.summary();
    // Rendered files are on the timeline already (the render records them); files from disk are recorded here.
    if (resolved.path !== 'rendered') {
      this.#o.boot.recordFile(ip, {
        stage: classifyFile(file),
        via: 'tftp',
        detail: printable(file, 120),
        bytes: summary.bytes,
        ms: summary.ms,
        retransmits: summary.retransmits,
        outcome,
      });
    }
    this.#m.transfers.inc({ outcome });
    this.#m.duration.observe(summary.ms! / 1000, { outcome });
    const level = outcome === 'ok' || outcome === 'aborted' ? 'info' : 'warn';
    log[level]({ ...summary, mode, origin: resolved.origin, path: resolved.path, outcome }, 'tftp transfer');
  }
}
