import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasCode } from '../../../src/core/errors.js';
import { type DhcpPacket, MIN_PACKET_LENGTH, decodeDhcp, encodeDhcp, hardwareAddress } from '../../../src/dhcp-hooks/dhcp-packet.js';
import { MessageType, Opt } from '../../../src/dhcp-hooks/dhcp-options.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/dhcp');
const CAPTURES = ['seabios-ipxe-discover', 'seabios-ipxe-request', 'ovmf-ipxe-discover', 'ovmf-ipxe-request'];

function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, `${name}.bin`));
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return hasCode(err, 'E_DHCP_PACKET') ? err.code : `other: ${String(err)}`;
  }
  return undefined;
}

function sample(): DhcpPacket {
  const chaddr = Buffer.alloc(16);
  Buffer.from('525400123456', 'hex').copy(chaddr);
  return {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0xdeadbeef,
    secs: 3,
    flags: 0x8000,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '10.0.0.1',
    giaddr: '0.0.0.0',
    chaddr,
    sname: 'edgeboot',
    file: 'undionly.kpxe',
    options: new Map([
      [Opt.messageType, Buffer.from([MessageType.discover])],
      [Opt.vendorClass, Buffer.from('PXEClient:Arch:00000:UNDI:002001')],
    ]),
  };
}

describe('decodeDhcp on real captures (qemu iPXE ROM)', () => {
  it.each(CAPTURES)('%s encodes back to the captured bytes', (name) => {
    const bytes = fixture(name);
    expect(encodeDhcp(decodeDhcp(bytes)).equals(bytes)).toBe(true);
  });

  it('reads the SeaBIOS DISCOVER header', () => {
    const p = decodeDhcp(fixture('seabios-ipxe-discover'));
    expect({ op: p.op, htype: p.htype, hlen: p.hlen, ciaddr: p.ciaddr, mac: hardwareAddress(p) }).toEqual({
      op: 1,
      htype: 1,
      hlen: 6,
      ciaddr: '0.0.0.0',
      mac: '52:54:00:d4:01:01',
    });
  });

  it('keeps the options in the order the ROM sent them', () => {
    const p = decodeDhcp(fixture('seabios-ipxe-discover'));
    expect([...p.options.keys()]).toEqual([53, 57, 93, 94, 60, 77, 55, 175, 61, 97]);
  });

  it('reads option 53 of the REQUEST as DHCPREQUEST with options 54 and 50', () => {
    const p = decodeDhcp(fixture('ovmf-ipxe-request'));
    expect([p.options.get(Opt.messageType)?.[0], p.options.has(Opt.serverId), p.options.has(Opt.requestedIp)]).toEqual([MessageType.request, true, true]);
  });
});

describe('encodeDhcp / decodeDhcp round trip', () => {
  it('gives back the same packet', () => {
    const p = sample();
    expect(decodeDhcp(encodeDhcp(p))).toEqual(p);
  });

  it('pads short messages to 300 bytes (RFC 1542 §2.1)', () => {
    expect(encodeDhcp(sample()).length).toBe(MIN_PACKET_LENGTH);
  });

  it('splits an option longer than 255 bytes and joins it back (RFC 3396)', () => {
    const p = sample();
    const long = Buffer.alloc(600, 0x41);
    p.options.set(Opt.vendorSpecific, long);
    const bytes = encodeDhcp(p);
    expect(decodeDhcp(bytes).options.get(Opt.vendorSpecific)).toEqual(long);
  });
});

describe('decodeDhcp edge cases', () => {
  it('reads options overloaded into the file and sname fields (RFC 2132 §9.3)', () => {
    const bytes = encodeDhcp({ ...sample(), sname: '', file: '' });
    // Put option 52 = 3 in the options field, option 67 into `file` and option 66 into `sname`.
    const opts = Buffer.from([Opt.overload, 1, 3, Opt.messageType, 1, 1, 255]);
    const b = Buffer.alloc(240 + opts.length);
    bytes.copy(b, 0, 0, 240);
    opts.copy(b, 240);
    Buffer.from([Opt.bootfileName, 4, 0x61, 0x62, 0x63, 0x64, 255]).copy(b, 108);
    Buffer.from([Opt.tftpServerName, 2, 0x78, 0x79, 255]).copy(b, 44);
    const p = decodeDhcp(b);
    expect([p.options.get(67)?.toString(), p.options.get(66)?.toString(), p.file, p.sname, p.options.has(Opt.overload)]).toEqual([
      'abcd',
      'xy',
      '',
      '',
      false,
    ]);
  });

  it('accepts options that run to the end without option 255', () => {
    const b = Buffer.concat([encodeDhcp(sample()).subarray(0, 240), Buffer.from([Opt.messageType, 1, 1])]);
    expect(decodeDhcp(b).options.get(Opt.messageType)).toEqual(Buffer.from([1]));
  });

  it('skips pad bytes between options', () => {
    const b = Buffer.concat([encodeDhcp(sample()).subarray(0, 240), Buffer.from([0, 0, Opt.messageType, 1, 3, 255])]);
    expect(decodeDhcp(b).options.get(Opt.messageType)).toEqual(Buffer.from([3]));
  });
});

describe('bad input is a typed error', () => {
  const good = fixture('seabios-ipxe-discover');

  it.each([0, 1, 100, 235, 239])('a message cut to %i bytes is E_DHCP_PACKET', (n) => {
    expect(codeOf(() => decodeDhcp(good.subarray(0, n)))).toBe('E_DHCP_PACKET');
  });

  it('an option cut inside its data is E_DHCP_PACKET', () => {
    const b = Buffer.concat([good.subarray(0, 240), Buffer.from([Opt.vendorClass, 20, 0x50, 0x58])]);
    expect(codeOf(() => decodeDhcp(b))).toBe('E_DHCP_PACKET');
  });

  it('an option without its length byte is E_DHCP_PACKET', () => {
    const b = Buffer.concat([good.subarray(0, 240), Buffer.from([Opt.vendorClass])]);
    expect(codeOf(() => decodeDhcp(b))).toBe('E_DHCP_PACKET');
  });

  it('a missing magic cookie is E_DHCP_PACKET', () => {
    const b = Buffer.from(good);
    b.writeUInt32BE(0x01020304, 236);
    expect(codeOf(() => decodeDhcp(b))).toBe('E_DHCP_PACKET');
  });

  it('a hardware address length over 16 is E_DHCP_PACKET', () => {
    const b = Buffer.from(good);
    b[2] = 17;
    expect(codeOf(() => decodeDhcp(b))).toBe('E_DHCP_PACKET');
  });

  it('10,000 random datagrams give a packet or E_DHCP_PACKET, never another throw', () => {
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 16;
    };
    const outcomes = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const b = Buffer.from(good.subarray(0, 240 + (rand() % 200)));
      // Keep the header and cookie sometimes, so the option parser is exercised too.
      const from = i % 2 === 0 ? 240 : 0;
      for (let k = from; k < b.length; k++) b[k] = rand() & 0xff;
      outcomes.add(codeOf(() => decodeDhcp(b)) ?? 'ok');
    }
    expect([...outcomes].filter((o) => o !== 'ok' && o !== 'E_DHCP_PACKET')).toEqual([]);
  });

  it('encoding a file name longer than its field is E_DHCP_PACKET', () => {
    expect(codeOf(() => encodeDhcp({ ...sample(), file: 'x'.repeat(128) }))).toBe('E_DHCP_PACKET');
  });

  it('encoding a malformed address is E_DHCP_PACKET', () => {
    expect(codeOf(() => encodeDhcp({ ...sample(), siaddr: '10.0.0.256' }))).toBe('E_DHCP_PACKET');
  });
});
