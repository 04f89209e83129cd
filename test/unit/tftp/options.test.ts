import { describe, expect, it } from 'vitest';
import { type NegotiationLimits, negotiate } from '../../../src/tftp/options.js';
import type { TftpOption } from '../../../src/tftp/packet.js';

const LIMITS: NegotiationLimits = { maxBlksize: 1468, maxWindowsize: 64 };
const WIDE: NegotiationLimits = { maxBlksize: 65464, maxWindowsize: 65535 };

interface Row {
  name: string;
  asked: TftpOption[];
  size?: number;
  limits?: NegotiationLimits;
  blksize: number;
  windowsize: number;
  timeoutMs?: number;
  reply: TftpOption[];
}

const rows: Row[] = [
  { name: 'no options: RFC 1350 defaults, no OACK', asked: [], blksize: 512, windowsize: 1, reply: [] },
  { name: 'blksize granted as asked', asked: [['blksize', '1024']], blksize: 1024, windowsize: 1, reply: [['blksize', '1024']] },
  { name: 'blksize 8 is the smallest allowed', asked: [['blksize', '8']], blksize: 8, windowsize: 1, reply: [['blksize', '8']] },
  { name: 'blksize below 8 is declined', asked: [['blksize', '7']], blksize: 512, windowsize: 1, reply: [] },
  { name: 'blksize clamped to the interface/config limit', asked: [['blksize', '9000']], blksize: 1468, windowsize: 1, reply: [['blksize', '1468']] },
  {
    name: 'blksize above 65464 clamped to 65464',
    asked: [['blksize', '99999999']],
    limits: WIDE,
    blksize: 65464,
    windowsize: 1,
    reply: [['blksize', '65464']],
  },
  { name: 'blksize that is not a number is declined', asked: [['blksize', '1k']], blksize: 512, windowsize: 1, reply: [] },
  { name: 'blksize negative is declined', asked: [['blksize', '-512']], blksize: 512, windowsize: 1, reply: [] },
  { name: 'option names are case-insensitive, reply echoes the client spelling', asked: [['BLKSIZE', '1400']], blksize: 1400, windowsize: 1, reply: [['BLKSIZE', '1400']] },
  { name: 'mixed-case tsize', asked: [['TSize', '0']], size: 4242, blksize: 512, windowsize: 1, reply: [['TSize', '4242']] },
  { name: 'tsize answered with the size', asked: [['tsize', '0']], size: 70000, blksize: 512, windowsize: 1, reply: [['tsize', '70000']] },
  { name: 'tsize declined when the size is unknown', asked: [['tsize', '0']], blksize: 512, windowsize: 1, reply: [] },
  { name: 'tsize with garbage is declined', asked: [['tsize', 'abc']], size: 5, blksize: 512, windowsize: 1, reply: [] },
  { name: 'timeout 1..255 accepted', asked: [['timeout', '3']], blksize: 512, windowsize: 1, timeoutMs: 3000, reply: [['timeout', '3']] },
  { name: 'timeout 0 declined', asked: [['timeout', '0']], blksize: 512, windowsize: 1, reply: [] },
  { name: 'timeout 256 declined', asked: [['timeout', '256']], blksize: 512, windowsize: 1, reply: [] },
  { name: 'windowsize granted', asked: [['windowsize', '8']], blksize: 512, windowsize: 8, reply: [['windowsize', '8']] },
  { name: 'windowsize 0 declined', asked: [['windowsize', '0']], blksize: 512, windowsize: 1, reply: [] },
  { name: 'windowsize clamped to max_windowsize', asked: [['windowsize', '65535']], blksize: 512, windowsize: 64, reply: [['windowsize', '64']] },
  {
    name: 'windowsize bounded so a window fits a default socket buffer',
    asked: [['blksize', '8192'], ['windowsize', '16']],
    limits: WIDE,
    blksize: 8192,
    windowsize: 12,
    reply: [['blksize', '8192'], ['windowsize', '12']],
  },
  {
    name: 'windowsize bounded by blksize even when asked first',
    asked: [['windowsize', '64'], ['blksize', '65464']],
    limits: WIDE,
    blksize: 65464,
    windowsize: 1,
    reply: [['windowsize', '1'], ['blksize', '65464']],
  },
  { name: 'unknown options are ignored', asked: [['multicast', ''], ['rollover', '0']], blksize: 512, windowsize: 1, reply: [] },
  { name: 'first occurrence of a repeated option wins', asked: [['blksize', '1000'], ['BlkSize', '600']], blksize: 1000, windowsize: 1, reply: [['blksize', '1000']] },
  {
    name: 'PXE ROM request: blksize + tsize, reply in the asked order',
    asked: [['tsize', '0'], ['blksize', '1456']],
    size: 70000,
    blksize: 1456,
    windowsize: 1,
    reply: [['tsize', '70000'], ['blksize', '1456']],
  },
  {
    name: 'atftp windowed request',
    asked: [['blksize', '1468'], ['windowsize', '8']],
    blksize: 1468,
    windowsize: 8,
    reply: [['blksize', '1468'], ['windowsize', '8']],
  },
  { name: 'value with surrounding spaces', asked: [['blksize', ' 1024 ']], blksize: 1024, windowsize: 1, reply: [['blksize', '1024']] },
];

describe('option negotiation (RFC 2347 §2, 2348, 2349, 7440)', () => {
  it.each(rows)('$name', (row) => {
    const n = negotiate(row.asked, row.size, row.limits ?? LIMITS);
    expect({ blksize: n.blksize, windowsize: n.windowsize, timeoutMs: n.timeoutMs, reply: n.reply }).toEqual({
      blksize: row.blksize,
      windowsize: row.windowsize,
      timeoutMs: row.timeoutMs,
      reply: row.reply,
    });
  });
});
