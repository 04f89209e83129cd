import type { Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MetricsRegistry } from '../../../src/core/metrics.js';
import { PrebuiltContent, buildPackets } from '../../../src/tftp/content.js';
import { tftpMetrics } from '../../../src/tftp/metrics.js';
import { negotiate } from '../../../src/tftp/options.js';
import { type Packet, type TftpOption, encodeAck, encodeError, parsePacket } from '../../../src/tftp/packet.js';
import { TokenBucket } from '../../../src/tftp/rate-limit.js';
import { RTO } from '../../../src/tftp/rto.js';
import { type Outcome, Transfer } from '../../../src/tftp/transfer.js';

const PEER = { address: '192.0.2.50', port: 40000 };

class FakeSocket extends EventEmitter {
  sent: Array<{ packet: Packet; to?: string }> = [];
  closed = false;
  send(buf: Buffer, ...rest: unknown[]): void {
    const r = parsePacket(Buffer.from(buf));
    if (!r.ok) throw new Error(r.reason);
    const to = typeof rest[0] === 'number' ? `${rest[1]}:${rest[0]}` : undefined;
    this.sent.push({ packet: r.packet, to });
    const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined;
    cb?.();
  }
  close(): void {
    this.closed = true;
  }
}

function setup(size: number, options: TftpOption[] = [], retries = 3) {
  const peer = new FakeSocket();
  const strangers = new FakeSocket();
  const negotiated = negotiate(options, size, { maxBlksize: 65464, maxWindowsize: 64 });
  const outcomes: Outcome[] = [];
  const data = Buffer.alloc(size, 0x5a);
  const t = new Transfer({
    sockets: { peer: peer as unknown as Socket, strangers: strangers as unknown as Socket },
    peer: PEER,
    content: new PrebuiltContent(buildPackets(data, negotiated.blksize), size, negotiated.blksize, 'memory'),
    negotiated,
    retries,
    log: pino({ level: 'silent' }),
    metrics: tftpMetrics(new MetricsRegistry(), () => 0, () => 0),
    strangers: new TokenBucket(1000, 100),
    onDone: (_t, o) => outcomes.push(o),
  });
  const ack = (block: number) => peer.emit('message', encodeAck(block), { ...PEER, family: 'IPv4', size: 4 });
  const dataBlocks = () => peer.sent.filter((s) => s.packet.op === 'data').map((s) => (s.packet as { block: number }).block);
  return { t, peer, strangers, outcomes, ack, dataBlocks };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('lock-step transfer (RFC 1350 §6)', () => {
  it('without options it starts with DATA 1 and ends on the last ACK', () => {
    const s = setup(1000);
    s.t.start();
    expect(s.dataBlocks()).toEqual([1]);
    s.ack(1);
    expect(s.dataBlocks()).toEqual([1, 2]);
    s.ack(2);
    expect(s.outcomes).toEqual(['ok']);
    expect(s.peer.closed && s.strangers.closed).toBe(true);
  });

  it('duplicate ACKs never cause a resend (no Sorcerer’s Apprentice)', () => {
    const s = setup(5000);
    s.t.start();
    s.ack(1);
    s.ack(1);
    s.ack(1);
    s.ack(0);
    expect(s.dataBlocks()).toEqual([1, 2]);
  });

  it('an ACK for a block not yet sent is ignored', () => {
    const s = setup(5000);
    s.t.start();
    s.ack(7);
    expect(s.dataBlocks()).toEqual([1]);
  });

  it('a timeout resends the unacknowledged block, with exponential backoff', () => {
    const s = setup(5000);
    s.t.start();
    vi.advanceTimersByTime(RTO.initialMs + 5);
    expect(s.dataBlocks()).toEqual([1, 1]);
    vi.advanceTimersByTime(RTO.initialMs + 5);
    expect(s.dataBlocks()).toEqual([1, 1]);
    vi.advanceTimersByTime(RTO.initialMs + 5);
    expect(s.dataBlocks()).toEqual([1, 1, 1]);
    expect(s.t.retransmits).toBe(2);
  });

  it('gives up after the configured number of timeouts with ERROR 0', () => {
    const s = setup(5000, [], 2);
    s.t.start();
    vi.advanceTimersByTime(60_000);
    expect(s.outcomes).toEqual(['timeout']);
    expect(s.peer.sent.at(-1)!.packet).toMatchObject({ op: 'error', code: 0 });
  });

  it('a client ERROR ends the transfer without an answer', () => {
    const s = setup(5000);
    s.t.start();
    s.peer.emit('message', encodeError(8, 'size probe'), { ...PEER, family: 'IPv4', size: 10 });
    expect(s.outcomes).toEqual(['aborted']);
    expect(s.peer.sent.every((x) => x.packet.op !== 'error')).toBe(true);
  });

  it('malformed datagrams from the peer are dropped', () => {
    const s = setup(5000);
    s.t.start();
    expect(() => s.peer.emit('message', Buffer.from([0, 4]), { ...PEER, family: 'IPv4', size: 2 })).not.toThrow();
    s.peer.emit('message', Buffer.from([0, 3, 0, 1, 9]), { ...PEER, family: 'IPv4', size: 5 });
    expect(s.dataBlocks()).toEqual([1]);
    expect(s.outcomes).toEqual([]);
  });
});

describe('strangers (RFC 1350 §4)', () => {
  it('a packet from another port is answered with error 5 and does not disturb the transfer', () => {
    const s = setup(5000);
    s.t.start();
    s.strangers.emit('message', encodeAck(1), { address: PEER.address, port: 40001, family: 'IPv4', size: 4 });
    expect(s.strangers.sent).toEqual([{ packet: { op: 'error', code: 5, message: 'unknown transfer ID' }, to: `${PEER.address}:40001` }]);
    expect(s.dataBlocks()).toEqual([1]);
    s.ack(1);
    expect(s.dataBlocks()).toEqual([1, 2]);
  });

  it('an ERROR from a stranger is not answered', () => {
    const s = setup(5000);
    s.t.start();
    s.strangers.emit('message', encodeError(5, 'x'), { address: '192.0.2.99', port: 1, family: 'IPv4', size: 6 });
    expect(s.strangers.sent).toEqual([]);
  });
});

describe('options and windows (RFC 2347 §2, RFC 7440 §4)', () => {
  it('an OACK goes first and DATA waits for ACK 0', () => {
    const s = setup(5000, [['tsize', '0']]);
    s.t.start();
    expect(s.peer.sent.map((x) => x.packet.op)).toEqual(['oack']);
    s.ack(1);
    expect(s.dataBlocks()).toEqual([]);
    s.ack(0);
    expect(s.dataBlocks()).toEqual([1]);
  });

  it('a lost OACK (or ACK 0) is sent again after a second, then backing off', () => {
    const s = setup(5000, [['blksize', '1024']]);
    s.t.start();
    vi.advanceTimersByTime(RTO.oackMs + 5);
    expect(s.peer.sent.map((x) => x.packet.op)).toEqual(['oack', 'oack']);
    vi.advanceTimersByTime(RTO.oackMs + 5);
    expect(s.peer.sent.map((x) => x.packet.op)).toEqual(['oack', 'oack']);
    vi.advanceTimersByTime(RTO.oackMs);
    expect(s.peer.sent.map((x) => x.packet.op)).toEqual(['oack', 'oack', 'oack']);
  });

  it('an ACK 0 late by more than the initial RTO meets no second OACK (atftp aborts on one)', () => {
    const s = setup(5000, [['blksize', '1024']]);
    s.t.start();
    vi.advanceTimersByTime(RTO.oackMs - 10);
    expect(s.peer.sent.map((x) => x.packet.op)).toEqual(['oack']);
    s.ack(0);
    expect(s.peer.sent.map((x) => x.packet.op)).toEqual(['oack', 'data']);
    expect(s.t.retransmits).toBe(0);
  });

  it('a timeout that falls due with ACK 0 already queued does not resend the OACK', () => {
    const s = setup(5000, [['blksize', '1024']]);
    s.t.start();
    // The event loop was busy past the deadline: the timer runs first, the queued ACK 0 is read in the same turn.
    vi.advanceTimersToNextTimer();
    s.ack(0);
    vi.advanceTimersByTime(0);
    expect(s.peer.sent.map((x) => x.packet.op)).toEqual(['oack', 'data']);
    expect(s.t.retransmits).toBe(0);
  });

  it('a client timeout of one second (RFC 2349) is the OACK’s wait too', () => {
    const s = setup(5000, [['timeout', '1']]);
    s.t.start();
    vi.advanceTimersByTime(1005);
    expect(s.peer.sent.map((x) => x.packet.op)).toEqual(['oack', 'oack']);
  });

  it('sends a whole window, then the next on the ACK of its last block', () => {
    const s = setup(512 * 20, [['windowsize', '4']]);
    s.t.start();
    s.ack(0);
    expect(s.dataBlocks()).toEqual([1, 2, 3, 4]);
    s.ack(4);
    expect(s.dataBlocks()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('an ACK inside the window resumes right after it (go-back-N)', () => {
    const s = setup(512 * 20, [['windowsize', '4']]);
    s.t.start();
    s.ack(0);
    s.ack(2);
    expect(s.dataBlocks()).toEqual([1, 2, 3, 4, 3, 4, 5, 6]);
  });

  it('a repeated mid-window ACK does not resend again', () => {
    const s = setup(512 * 20, [['windowsize', '4']]);
    s.t.start();
    s.ack(0);
    s.ack(2);
    s.ack(2);
    s.ack(2);
    expect(s.dataBlocks()).toHaveLength(8);
  });

  it('block numbers roll over past 65535 and the transfer still completes', () => {
    const size = 8 * 70_000 + 3;
    const s = setup(size, [['blksize', '8'], ['windowsize', '16']]);
    s.t.start();
    s.ack(0);
    let acked = 0;
    while (s.outcomes.length === 0) {
      acked = Math.min(acked + 16, 70_001);
      s.ack(acked & 0xffff);
    }
    expect(s.outcomes).toEqual(['ok']);
    expect(s.t.retransmits).toBe(0);
    expect(s.dataBlocks().slice(65534, 65538)).toEqual([65535, 0, 1, 2]);
  });
});
