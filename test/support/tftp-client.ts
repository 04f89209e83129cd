/**
 * A small lock-step TFTP read client, as PXE firmware does it (RFC 1350 §6, options RFC 2347–2349):
 * RRQ with blksize and tsize, OACK answered with ACK 0, every DATA block acknowledged, the last
 * packet retransmitted when nothing arrives in time. Used by the storm bench and the fault drills.
 */
import { createHash, type Hash } from 'node:crypto';
import { type Socket, createSocket } from 'node:dgram';
import { encodeAck, encodeRequest, parsePacket } from '../../src/tftp/packet.js';

/** Where and how to fetch. */
export interface TftpGetOptions {
  server: string;
  port: number;
  file: string;
  /** Source address to bind (the machine's own address). */
  localAddress: string;
  blksize?: number;
  /** First retransmission timeout; doubled on each consecutive timeout. */
  timeoutMs?: number;
  /** Consecutive timeouts before giving up (firmware gives up too). */
  retries?: number;
  /** Hash the payload (sha256) for a byte-exact check. */
  hash?: boolean;
  /** How long the socket stays open after the last ACK to answer a resent last block. */
  dallyMs?: number;
  /** Wait this long before acknowledging each block (a slow client, for drills that need a transfer in flight). */
  ackDelayMs?: number;
  /** Keep the payload (small files only: the security sweep inspects it). */
  keepData?: boolean;
}

/** What a finished download looked like. */
export interface TftpGetResult {
  bytes: number;
  data?: Buffer;
  sha256?: string;
  retransmits: number;
}

/** A TFTP ERROR answer from the server (e.g. "server busy"), kept apart from timeouts. */
export class TftpErrorReply extends Error {
  constructor(
    readonly code: number,
    readonly serverMessage: string,
  ) {
    super(`TFTP error ${code}: ${serverMessage}`);
  }
}

function bind(localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, localAddress, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

/** Download one file; rejects with TftpErrorReply on an ERROR packet and a plain Error on timeout. */
export async function tftpGet(o: TftpGetOptions): Promise<TftpGetResult> {
  const socket = await bind(o.localAddress);
  const blksize = o.blksize ?? 1468;
  const baseTimeout = o.timeoutMs ?? 1000;
  const maxRetries = o.retries ?? 6;
  const hash: Hash | undefined = o.hash ? createHash('sha256') : undefined;
  const kept: Buffer[] = [];
  return new Promise<TftpGetResult>((resolve, reject) => {
    let serverPort: number | undefined;
    let size = 512;
    let expected = 1;
    let bytes = 0;
    let retransmits = 0;
    let tries = 0;
    let last = encodeRequest('rrq', o.file, 'octet', [
      ['blksize', String(blksize)],
      ['tsize', '0'],
    ]);
    let lastPort = o.port;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;

    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (err) {
        socket.close();
        reject(err);
        return;
      }
      resolve({ bytes, data: o.keepData ? Buffer.concat(kept) : undefined, sha256: hash?.digest('hex'), retransmits });
      // Dally (RFC 1350 §6): if the final ACK is lost the server resends the last block; acknowledge it again.
      setTimeout(() => socket.close(), o.dallyMs ?? baseTimeout * 2).unref();
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (++tries > maxRetries) return finish(new Error(`TFTP timeout after ${maxRetries} retransmissions at block ${expected}`));
        retransmits++;
        send(last, lastPort, false);
      }, baseTimeout * 2 ** tries);
    };
    const send = (buf: Buffer, port: number, fresh = true) => {
      last = buf;
      lastPort = port;
      if (fresh) tries = 0;
      socket.send(buf, port, o.server, (err) => {
        if (err) finish(err);
      });
      arm();
    };

    socket.on('error', (err) => finish(err));
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address !== o.server) return;
      if (finished) {
        if (serverPort !== undefined && rinfo.port === serverPort) socket.send(encodeAck(expected & 0xffff), serverPort, o.server);
        return;
      }
      // The first answer fixes the server's transfer ID; anything from another port is a stranger (§4).
      if (serverPort === undefined) serverPort = rinfo.port;
      else if (rinfo.port !== serverPort) return;
      const parsed = parsePacket(msg);
      if (!parsed.ok) return;
      const p = parsed.packet;
      if (p.op === 'error') return finish(new TftpErrorReply(p.code, p.message));
      if (p.op === 'oack') {
        if (expected !== 1 || bytes !== 0) return;
        for (const [k, v] of p.options) if (k.toLowerCase() === 'blksize') size = Number(v);
        return send(encodeAck(0), serverPort);
      }
      if (p.op !== 'data') return;
      if (p.block === (expected & 0xffff)) {
        bytes += p.data.length;
        hash?.update(p.data);
        if (o.keepData) kept.push(Buffer.from(p.data));
        const ack = encodeAck(p.block);
        if (p.data.length < size) {
          socket.send(ack, serverPort, o.server, () => finish());
          return;
        }
        expected++;
        if (o.ackDelayMs) {
          clearTimeout(timer);
          const port = serverPort;
          setTimeout(() => !finished && send(ack, port), o.ackDelayMs);
        } else send(ack, serverPort);
      } else if (p.block === ((expected - 1) & 0xffff)) {
        // Our ACK was lost and the server resent the block: acknowledge it again.
        socket.send(encodeAck(p.block), serverPort, o.server);
      }
    });
    send(last, o.port);
  });
}
