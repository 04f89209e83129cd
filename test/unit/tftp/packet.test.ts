import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MAX_PACKET,
  type Packet,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeRequest,
  parsePacket,
} from '../../../src/tftp/packet.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function parsed(buf: Buffer): Packet {
  const r = parsePacket(buf);
  if (!r.ok) throw new Error(`expected a packet, got: ${r.reason}`);
  return r.packet;
}

describe('golden packets (RFC 1350 §5, RFC 2347 §2)', () => {
  // "pxelinux.0" octet, blksize 1468, tsize 0, as PXE ROMs send it.
  const rrq = hex('0001 7078656c696e75782e3000 6f6374657400 626c6b73697a6500 3134363800 7473697a6500 3000');

  it('decodes an RRQ with options', () => {
    expect(parsed(rrq)).toEqual({
      op: 'rrq',
      file: 'pxelinux.0',
      mode: 'octet',
      options: [
        ['blksize', '1468'],
        ['tsize', '0'],
      ],
    });
  });

  it('encodes the same RRQ byte for byte', () => {
    expect(encodeRequest('rrq', 'pxelinux.0', 'octet', [['blksize', '1468'], ['tsize', '0']]).equals(rrq)).toBe(true);
  });

  it('encodes an OACK', () => {
    expect(encodeOack([['blksize', '1468'], ['tsize', '70000']]).equals(hex('0006 626c6b73697a6500 3134363800 7473697a6500 373030303000'))).toBe(true);
  });

  it('encodes DATA', () => {
    expect(encodeData(1, Buffer.from('hi')).equals(hex('0003 0001 6869'))).toBe(true);
  });

  it('encodes an ACK', () => {
    expect(encodeAck(65535).equals(hex('0004 ffff'))).toBe(true);
  });

  it('encodes an ERROR', () => {
    expect(encodeError(1, 'file not found').equals(hex('0005 0001 66696c65206e6f7420666f756e6400'))).toBe(true);
  });

  it('decodes a WRQ', () => {
    expect(parsed(hex('0002 6100 6f6374657400'))).toEqual({ op: 'wrq', file: 'a', mode: 'octet', options: [] });
  });
});

describe('round trips', () => {
  const cases: Packet[] = [
    { op: 'rrq', file: 'grub/grub.cfg-01-52-54-00-12-34-56', mode: 'netascii', options: [] },
    { op: 'rrq', file: 'x', mode: 'OCTET', options: [['BlkSize', '8'], ['windowsize', '64'], ['timeout', '1'], ['tsize', '0']] },
    { op: 'wrq', file: 'upload.bin', mode: 'octet', options: [['tsize', '1234']] },
    { op: 'oack', options: [['blksize', '65464'], ['windowsize', '1']] },
    { op: 'ack', block: 0 },
    { op: 'ack', block: 65535 },
    { op: 'error', code: 8, message: 'option refused' },
  ];

  it.each(cases)('%o survives encode → parse', (p) => {
    let buf: Buffer;
    if (p.op === 'rrq' || p.op === 'wrq') buf = encodeRequest(p.op, p.file, p.mode, p.options);
    else if (p.op === 'oack') buf = encodeOack(p.options);
    else if (p.op === 'ack') buf = encodeAck(p.block);
    else if (p.op === 'error') buf = encodeError(p.code, p.message);
    else throw new Error('unexpected');
    expect(parsed(buf)).toEqual(p);
  });

  it('DATA of a full 65464-byte block survives encode → parse', () => {
    const data = randomBytes(65464);
    const p = parsed(encodeData(7, data));
    expect(p.op === 'data' && p.block === 7 && p.data.equals(data)).toBe(true);
  });

  it('ERROR text is reduced to printable ASCII', () => {
    expect(parsed(encodeError(0, 'bad\nline\u00e9'))).toEqual({ op: 'error', code: 0, message: 'bad?line?' });
  });
});

describe('truncated, oversized and garbage input is refused, never thrown', () => {
  const bad: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['one byte', hex('00')],
    ['opcode 0', hex('0000 6100 6f6300')],
    ['opcode 7', hex('0007 0001')],
    ['opcode 65535', hex('ffff')],
    ['RRQ without any string', hex('0001')],
    ['RRQ with unterminated file name', hex('0001 616263')],
    ['RRQ with unterminated mode', hex('0001 6100 6f63746574')],
    ['RRQ with empty file name', hex('0001 00 6f6374657400')],
    ['RRQ with option name but no value', hex('0001 6100 6f6374657400 626c6b73697a6500 3531')],
    ['RRQ with empty option name', hex('0001 6100 6f6374657400 00 3500')],
    ['RRQ with invalid UTF-8 name', hex('0001 ff fe00 6f6374657400')],
    ['RRQ longer than 1024 octets', Buffer.concat([hex('0001'), Buffer.alloc(1100, 0x61), hex('00 6f6374657400')])],
    ['DATA without block number', hex('0003 00')],
    ['ACK of three bytes', hex('0004 00')],
    ['ERROR of three bytes', hex('0005 00')],
    ['OACK with a dangling name', hex('0006 626c6b73697a6500')],
    ['datagram larger than any TFTP packet', Buffer.alloc(MAX_PACKET + 1, 3)],
  ];

  it.each(bad)('%s', (_name, buf) => {
    const r = parsePacket(buf);
    expect(r.ok).toBe(false);
  });

  it('trailing NUL padding after the options is tolerated', () => {
    expect(parsed(hex('0001 6100 6f6374657400 00 00'))).toEqual({ op: 'rrq', file: 'a', mode: 'octet', options: [] });
  });

  it('an ACK padded by firmware still reads its block number', () => {
    expect(parsed(hex('0004 0102 0000 0000'))).toEqual({ op: 'ack', block: 0x0102 });
  });

  it('an ERROR without its terminating NUL keeps its text', () => {
    expect(parsed(hex('0005 0002 6869'))).toEqual({ op: 'error', code: 2, message: 'hi' });
  });

  it('20,000 random and mutated datagrams never throw', () => {
    const seeds = [encodeRequest('rrq', 'pxelinux.0', 'octet', [['blksize', '1468']]), encodeAck(3), encodeOack([['tsize', '9']])];
    for (let i = 0; i < 20_000; i++) {
      let buf: Buffer;
      if (i % 2 === 0) {
        buf = randomBytes(i % 700);
      } else {
        buf = Buffer.from(seeds[i % seeds.length]!);
        for (let k = 0; k < 3; k++) buf[(i * 7 + k * 13) % buf.length] = (i * 31 + k) & 0xff;
        buf = buf.subarray(0, (i * 5) % (buf.length + 1));
      }
      expect(() => parsePacket(buf)).not.toThrow();
    }
  });
});
