import type { RemoteInfo } from 'node:dgram';
import type { Logger } from 'pino';
import { messageOf } from '../core/errors.js';
import { type Content, lastBlock } from './content.js';
import type { TransferSockets } from './listeners.js';
import type { TftpMetrics } from './metrics.js';
import type { Negotiated } from './options.js';
import { OPCODE, TFTP_ERROR, encodeError, encodeOack } from './packet.js';
import type { TokenBucket } from './rate-limit.js';
import { RTO, RtoEstimator } from './rto.js';

/** How a transfer ended. */
export type Outcome = 'ok' | 'timeout' | 'aborted' | 'error' | 'shutdown';

/** The client end of a transfer: its address and port are its transfer ID (RFC 1350 §4). */
export interface Peer {
  address: string;
  port: number;
}

/** Everything one transfer needs; the server owns the socket's creation, the transfer its life. */
export interface TransferOptions {
  sockets: TransferSockets;
  peer: Peer;
  content: Content;
  negotiated: Negotiated;
  /** Consecutive timeouts tolerated before giving up. */
  retries: number;
  log: Logger;
  metrics: TftpMetrics;
  /** Shared budget for answering strangers with ERROR 5. */
  strangers: TokenBucket;
  onDone(t: Transfer, outcome: Outcome): void;
}

/**
 * One read transfer (RFC 1350 §6) with OACK (RFC 2347 §2) and windows (RFC 7440 §4): go-back-N from the
 * block after the last ACK, retransmission only on timeout or a mid-window ACK, never on a duplicate ACK
 * (RFC 1350's Sorcerer's Apprentice fix), adaptive timeout with exponential backoff.
 */
export class Transfer {
  readonly #o: TransferOptions;
  readonly #sockets: TransferSockets;
  readonly #peer: Peer;
  readonly #content: Content;
  readonly #blksize: number;
  readonly #window: number;
  readonly #last: number;
  readonly #debug: boolean;
  readonly #oack?: Buffer;
  /** Lowest block not yet acknowledged; 0 is the OACK. */
  #floor: number;
  #next: number;
  #sentHigh = -1;
  readonly #rto: RtoEstimator;
  #sampleBlock = -1;
  #sampleAt = 0;
  #deadline = 0;
  #timer?: NodeJS.Timeout;
  #expiring?: NodeJS.Immediate;
  #timerAt = 0;
  #timeouts = 0;
  #loading = false;
  #done = false;
  /** Payload bytes not yet added to the metric (flushed on the timer, not per packet). */
  #unflushed = 0;
  readonly startedAt = performance.now();
  retransmits = 0;
  packets = 0;
  duplicates = 0;

  constructor(options: TransferOptions) {
    this.#o = options;
    this.#sockets = options.sockets;
    this.#peer = options.peer;
    this.#content = options.content;
    const n = options.negotiated;
    this.#blksize = n.blksize;
    this.#window = n.windowsize;
    this.#last = lastBlock(options.content.size, n.blksize);
    // A client-given timeout (RFC 2349 §2) bounds how long we wait; we may retransmit sooner.
    this.#rto = new RtoEstimator(n.timeoutMs);
    this.#debug = options.log.isLevelEnabled('debug');
    if (n.reply.length > 0) {
      this.#oack = encodeOack(n.reply);
      // RFC 2347 §2 has the client answer an OACK with ACK 0; a resend that crosses a late ACK 0 makes atftp
      // abort ("unexpected OACK"), so the OACK waits a full second (and backs off from there) before it is resent.
      this.#rto.atLeast(RTO.oackMs);
    }
    this.#floor = this.#oack ? 0 : 1;
    this.#next = this.#floor;
  }

  /** The peer's address:port, the key of this transfer. */
  get peer(): Peer {
    return this.#peer;
  }

  /** Begin sending: the OACK, or DATA 1 when no option was acknowledged. */
  start(): void {
    const { peer, strangers } = this.#sockets;
    peer.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
    strangers.on('message', (msg, rinfo) => this.#onStranger(msg, rinfo));
    peer.on('error', (err) => this.#onSocketError(err));
    strangers.on('error', (err) => this.#o.log.debug({ err: messageOf(err) }, 'transfer socket error'));
    this.#pump();
  }

  /** End now with ERROR 0 (shutdown past the grace period). */
  abort(message: string): void {
    this.#finish('shutdown', message);
  }

  #send(buf: Buffer): void {
    this.#sockets.peer.send(buf);
    this.packets++;
  }

  /** ICMP port unreachable surfaces as ECONNREFUSED on the connected socket: the client is gone. */
  #onSocketError(err: Error): void {
    this.#o.log.debug({ err: messageOf(err) }, 'transfer socket error');
    if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') this.#finish('aborted');
  }

  /** Send every block the window allows from #next; `now` is passed in when the caller has read the clock already. */
  #pump(now = performance.now()): void {
    if (this.#done) return;
    const limit = this.#floor === 0 ? 1 : Math.min(this.#floor + this.#window, this.#last + 1);
    while (this.#next < limit) {
      const n = this.#next;
      if (n === 0) {
        this.#send(this.#oack!);
      } else {
        const packet = this.#content.packet(n);
        if (!packet) {
          this.#await(n);
          break;
        }
        this.#send(packet);
        this.#unflushed += packet.length - 4;
        if (this.#debug) this.#o.log.debug({ block: n, bytes: packet.length - 4, again: n <= this.#sentHigh }, 'DATA');
      }
      if (n > this.#sentHigh) {
        this.#sentHigh = n;
        if (this.#sampleBlock < 0) {
          this.#sampleBlock = n;
          this.#sampleAt = now;
        }
      } else {
        this.retransmits++;
        this.#o.metrics.retransmits.inc();
      }
      this.#next = n + 1;
    }
    this.#deadline = now + this.#rto.ms;
    this.#arm();
  }

  #await(n: number): void {
    if (this.#loading) return;
    this.#loading = true;
    this.#content.load(n).then(
      () => {
        this.#loading = false;
        this.#pump();
      },
      (err: unknown) => {
        this.#loading = false;
        this.#o.log.error({ err: messageOf(err) }, 'reading the file failed');
        this.#finish('error', 'edgeboot could not read this file');
      },
    );
  }

  #arm(): void {
    if (this.#done) return;
    if (this.#timer) {
      // A timer armed under a longer RTO would fire late: move it earlier (rare; later deadlines just wait).
      if (this.#timerAt <= this.#deadline + 1) return;
      clearTimeout(this.#timer);
    }
    const now = performance.now();
    this.#timerAt = Math.max(now + 1, this.#deadline);
    this.#timer = setTimeout(() => this.#onTimer(), this.#timerAt - now);
  }

  /** One timer per transfer, re-armed lazily: progress only moves the deadline, it never touches the timer. */
  #onTimer(): void {
    this.#timer = undefined;
    if (this.#done) return;
    this.#flush();
    if (this.#due()) {
      // Node runs expired timers before it reads the sockets: after a busy stretch of the event loop the ACK
      // this timeout is about to give up on (ACK 0, say) may be queued already. Decide after this turn's reads.
      this.#expiring ??= setImmediate(() => this.#expire());
    } else {
      this.#arm();
    }
  }

  /** The deadline has passed and no block is being read (a read in progress pushes the deadline instead). */
  #due(): boolean {
    const now = performance.now();
    if (this.#loading) this.#deadline = now + this.#rto.ms;
    return now >= this.#deadline - 1 && !this.#loading;
  }

  /** A timeout: resend from the floor with a doubled RTO, or give up after `retries` in a row. */
  #expire(): void {
    this.#expiring = undefined;
    if (this.#done) return;
    if (!this.#due()) {
      this.#arm();
      return;
    }
    const now = performance.now();
    this.#timeouts++;
    if (this.#timeouts > this.#o.retries) {
      this.#finish('timeout', 'timed out waiting for an ACK');
      return;
    }
    this.#rto.backoff();
    this.#sampleBlock = -1; // Karn: no RTT sample from a retransmitted block.
    if (this.#debug) this.#o.log.debug({ floor: this.#floor, rto: this.#rto.ms }, 'timeout, resending window');
    this.#next = this.#floor;
    this.#pump(now);
  }

  #flush(): void {
    if (this.#unflushed > 0) this.#o.metrics.bytes.inc({}, this.#unflushed);
    this.#unflushed = 0;
  }

  /** RFC 1350 §4: a packet from another TID is answered with error 5 and does not disturb the transfer. */
  #onStranger(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.#done) return;
    // Never answer an ERROR with an ERROR.
    if (msg.length >= 2 && msg.readUInt16BE(0) === OPCODE.error) return;
    if (this.#o.strangers.take()) {
      this.#sockets.strangers.send(encodeError(TFTP_ERROR.unknownTid, 'unknown transfer ID'), rinfo.port, rinfo.address);
      this.#o.metrics.errors.inc({ code: String(TFTP_ERROR.unknownTid) });
    } else {
      this.#o.metrics.dropped.inc({ reason: 'stranger' });
    }
  }

  #onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.#done) return;
    // The connected socket only receives the peer's datagrams; this guards against a kernel that would not filter.
    if (rinfo.port !== this.#peer.port || rinfo.address !== this.#peer.address) {
      this.#onStranger(msg, rinfo);
      return;
    }
    if (msg.length < 4) {
      this.#o.metrics.dropped.inc({ reason: 'malformed' });
      return;
    }
    const op = msg.readUInt16BE(0);
    if (op === OPCODE.ack) this.#onAck(msg.readUInt16BE(2));
    else if (op === OPCODE.error) {
      const code = msg.readUInt16BE(2);
      // tsize probes end with ERROR 8 after the OACK (RFC 2347 §2); that is the client's choice, not a fault.
      this.#o.log.debug({ code }, 'client ended the transfer');
      this.#finish('aborted');
    } else {
      this.#o.metrics.dropped.inc({ reason: 'unexpected' });
    }
  }

  #onAck(block16: number): void {
    let acked: number;
    if (this.#floor === 0) {
      if (block16 !== 0) {
        this.duplicates++;
        return;
      }
      acked = 0;
    } else {
      // Map the 16-bit number onto the outstanding range (block numbers roll over past 65535).
      const base = this.#floor - 1;
      const delta = (block16 - base) & 0xffff;
      if (delta === 0 || delta > this.#sentHigh - base) {
        this.duplicates++;
        return;
      }
      acked = base + delta;
    }
    const now = performance.now();
    if (this.#sampleBlock >= 0 && acked >= this.#sampleBlock) {
      this.#rto.sample(now - this.#sampleAt);
      this.#sampleBlock = -1;
    }
    this.#timeouts = 0;
    this.#floor = acked + 1;
    if (this.#floor > this.#last) {
      this.#finish('ok');
      return;
    }
    this.#content.release(this.#floor);
    // RFC 7440 §4: an ACK inside the window means the rest was lost; resume right after it.
    if (this.#next > this.#floor && this.#sampleBlock > acked) this.#sampleBlock = -1;
    this.#next = this.#floor;
    this.#pump(now);
  }

  #finish(outcome: Outcome, error?: string): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#expiring) clearImmediate(this.#expiring);
    this.#timer = undefined;
    this.#expiring = undefined;
    this.#flush();
    this.#content.close();
    const close = () => {
      for (const s of [this.#sockets.peer, this.#sockets.strangers]) {
        try {
          s.close();
        } catch {
          // Already closed.
        }
      }
    };
    if (error !== undefined) {
      this.#o.metrics.errors.inc({ code: String(TFTP_ERROR.notDefined) });
      this.#sockets.peer.send(encodeError(TFTP_ERROR.notDefined, error), () => close());
    } else {
      close();
    }
    this.#o.onDone(this, outcome);
  }

  /** The fields of the one log line per finished transfer. */
  summary(): Record<string, number> {
    return {
      bytes: this.#content.size,
      blksize: this.#blksize,
      windowsize: this.#window,
      ms: Math.round(performance.now() - this.startedAt),
      retransmits: this.retransmits,
      packets: this.packets,
    };
  }
}
