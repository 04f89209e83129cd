import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import { planBoot } from '../../../src/dhcp-hooks/boot-plan.js';
import { type DhcpPacket, decodeDhcp } from '../../../src/dhcp-hooks/dhcp-packet.js';
import { MessageType, Opt } from '../../../src/dhcp-hooks/dhcp-options.js';
import { parseSubOptions, proxyAnswer } from '../../../src/dhcp-hooks/proxy-answer.js';
import { buildPxeDiscover } from '../../../src/dhcp-hooks/pxe-discover.js';

const PLAN = planBoot({ serverAddress: '10.0.0.1', httpPort: 5248, bios: 'undionly.kpxe', uefi: 'snponly.efi', secureBoot: false });

function capture(name: string): DhcpPacket {
  return decodeDhcp(readFileSync(join(import.meta.dirname, '../../fixtures/dhcp', `${name}.bin`)));
}

function discover(arch: number): DhcpPacket {
  return buildPxeDiscover({ mac: parseMac('52:54:00:00:00:01'), xid: 7, arch, guid: Buffer.alloc(16, 0xab) });
}

function answered(d: ReturnType<typeof proxyAnswer>): DhcpPacket {
  if (!('answer' in d)) throw new Error(`ignored: ${d.ignore}`);
  return d.answer;
}

function asRequest(p: DhcpPacket, type: number): DhcpPacket {
  const options = new Map(p.options);
  options.set(Opt.messageType, Buffer.from([type]));
  return { ...p, ciaddr: '10.0.0.50', options };
}

describe('proxyAnswer on port 67', () => {
  it('offers the iPXE ROM the HTTP entry script', () => {
    expect(answered(proxyAnswer(capture('seabios-ipxe-discover'), 'dhcp', PLAN)).file).toBe('http://10.0.0.1:5248/boot.ipxe');
  });

  it('offers a plain BIOS PXE client undionly.kpxe', () => {
    expect(answered(proxyAnswer(discover(0), 'dhcp', PLAN)).file).toBe('undionly.kpxe');
  });

  it('gives out no address (yiaddr 0.0.0.0)', () => {
    expect(answered(proxyAnswer(discover(0), 'dhcp', PLAN)).yiaddr).toBe('0.0.0.0');
  });

  it('names edgeboot as next-server and server identifier', () => {
    const a = answered(proxyAnswer(discover(7), 'dhcp', PLAN));
    expect([a.siaddr, [...(a.options.get(Opt.serverId) ?? [])].join('.')]).toEqual(['10.0.0.1', '10.0.0.1']);
  });

  it('asks a relay to broadcast the offer (no yiaddr to unicast to), and echoes giaddr', () => {
    const req = { ...discover(0), giaddr: '10.231.161.1', flags: 0 };
    const a = answered(proxyAnswer(req, 'dhcp', PLAN));
    expect([a.giaddr, a.flags & 0x8000]).toEqual(['10.231.161.1', 0x8000]);
    // A broadcast DISCOVER on the local link keeps the client's own flags.
    expect(answered(proxyAnswer({ ...discover(0), flags: 0 }, 'dhcp', PLAN)).flags).toBe(0);
  });

  it('answers with DHCPOFFER and echoes xid and chaddr', () => {
    const req = discover(0);
    const a = answered(proxyAnswer(req, 'dhcp', PLAN));
    expect([a.options.get(Opt.messageType)?.[0], a.xid, a.chaddr.equals(req.chaddr)]).toEqual([MessageType.offer, 7, true]);
  });

  it('echoes option 60 PXEClient and option 97', () => {
    const a = answered(proxyAnswer(discover(0), 'dhcp', PLAN));
    expect([a.options.get(Opt.vendorClass)?.toString(), a.options.get(Opt.clientUuid)?.length]).toEqual(['PXEClient', 17]);
  });

  it('tells PXE firmware to use the file without boot-server discovery (option 43.6 = 8)', () => {
    const a = answered(proxyAnswer(discover(0), 'dhcp', PLAN));
    expect(parseSubOptions(a.options.get(Opt.vendorSpecific)).get(6)).toEqual(Buffer.from([8]));
  });

  it('answers an HTTP boot client with an http URL and option 60 HTTPClient', () => {
    const req = discover(16);
    req.options.set(Opt.vendorClass, Buffer.from('HTTPClient:Arch:00016:UNDI:003001'));
    const a = answered(proxyAnswer(req, 'dhcp', PLAN));
    expect([a.file, a.options.get(Opt.vendorClass)?.toString(), a.options.has(Opt.vendorSpecific)]).toEqual([
      'http://10.0.0.1:5248/snponly.efi',
      'HTTPClient',
      false,
    ]);
  });

  it('ignores a client without a PXE vendor class', () => {
    const req = discover(0);
    req.options.set(Opt.vendorClass, Buffer.from('MSFT 5.0'));
    expect('ignore' in proxyAnswer(req, 'dhcp', PLAN)).toBe(true);
  });

  it('ignores a REQUEST on port 67: addresses are the DHCP server\'s business', () => {
    expect('ignore' in proxyAnswer(asRequest(discover(0), MessageType.request), 'dhcp', PLAN)).toBe(true);
  });

  it('ignores an architecture it has no loader for', () => {
    expect('ignore' in proxyAnswer(discover(6), 'dhcp', PLAN)).toBe(true);
  });

  it('ignores its own kind of message (BOOTREPLY)', () => {
    expect('ignore' in proxyAnswer({ ...discover(0), op: 2 }, 'dhcp', PLAN)).toBe(true);
  });
});

describe('proxyAnswer on port 4011', () => {
  it('acknowledges a REQUEST with the boot file', () => {
    const a = answered(proxyAnswer(asRequest(capture('ovmf-ipxe-discover'), MessageType.request), 'pxe', PLAN));
    expect([a.options.get(Opt.messageType)?.[0], a.file]).toEqual([MessageType.ack, 'http://10.0.0.1:5248/boot.ipxe']);
  });

  it('keeps the client address it was asked from', () => {
    expect(answered(proxyAnswer(asRequest(discover(7), MessageType.request), 'pxe', PLAN)).ciaddr).toBe('10.0.0.50');
  });

  it('echoes the requested PXE boot item (option 43.71)', () => {
    const req = asRequest(discover(7), MessageType.request);
    req.options.set(Opt.vendorSpecific, Buffer.from([71, 4, 0x80, 0x00, 0x00, 0x00, 255]));
    const a = answered(proxyAnswer(req, 'pxe', PLAN));
    expect(parseSubOptions(a.options.get(Opt.vendorSpecific)).get(71)).toEqual(Buffer.from([0x80, 0, 0, 0]));
  });

  it('ignores a DISCOVER', () => {
    expect('ignore' in proxyAnswer(discover(0), 'pxe', PLAN)).toBe(true);
  });
});

describe('parseSubOptions', () => {
  it('reads a malformed area as empty', () => {
    expect(parseSubOptions(Buffer.from([6, 5, 1])).size).toBe(0);
  });
});

// Issue 13: d-i reads any boot file name containing "://" as its preseed URL; only iPXE and UEFI HTTP
// Boot firmware may be handed a URL.
describe('proxyAnswer hands URLs only to iPXE and HTTPClient firmware', () => {
  it("a plain UEFI PXE client (OVMF's own PXE, captured) gets a file name, never a URL", () => {
    expect(answered(proxyAnswer(capture('ovmf-native-discover'), 'dhcp', PLAN)).file).toBe('snponly.efi');
    expect(answered(proxyAnswer(discover(7), 'dhcp', PLAN)).file).toBe('snponly.efi');
  });

  it('the iPXE that snponly.efi starts (captured) is sent to the HTTP entry script', () => {
    expect(answered(proxyAnswer(capture('ovmf-snponly-discover'), 'dhcp', PLAN)).file).toBe('http://10.0.0.1:5248/boot.ipxe');
  });

  it('a PXE client claiming the HTTP boot architecture gets nothing rather than a URL', () => {
    expect(proxyAnswer(discover(16), 'dhcp', PLAN)).toMatchObject({ ignore: expect.stringContaining('not HTTPClient') });
  });

  it('a d-i-like client (vendor class d-i, no option 93, no user class) gets no answer at all', () => {
    const req = discover(0);
    req.options.delete(Opt.clientArch);
    req.options.set(Opt.vendorClass, Buffer.from('d-i'));
    expect('ignore' in proxyAnswer(req, 'dhcp', PLAN)).toBe(true);
    expect('ignore' in proxyAnswer(asRequest(req, MessageType.request), 'pxe', PLAN)).toBe(true);
  });
});
