import { type Socket, createSocket } from 'node:dgram';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import { planBoot } from '../../../src/dhcp-hooks/boot-plan.js';
import { type DhcpPacket, decodeDhcp, encodeDhcp } from '../../../src/dhcp-hooks/dhcp-packet.js';
import { MessageType, Opt } from '../../../src/dhcp-hooks/dhcp-options.js';
import { ProxyDhcp } from '../../../src/dhcp-hooks/proxy-dhcp.js';
import { type RouteLookup, kernelRoute } from '../../../src/dhcp-hooks/proxy-route.js';
import { buildPxeDiscover } from '../../../src/dhcp-hooks/pxe-discover.js';

// A relay agent is played by a socket on 127.0.0.2 (giaddr); clients' broadcasts would land on a socket on
// 127.0.0.1 (the proxy's "client port"). Every datagram is real UDP through the kernel.

const LISTEN = '127.0.0.1';
const GIADDR = '127.0.0.2';
/** The address the fake routing table says edgeboot uses towards the relay: not the address it listens on. */
const ROUTED_SRC = '10.231.160.1';

let relay: Socket;
let clientSide: Socket;
const proxies: ProxyDhcp[] = [];
let nextXid = 5000;
const lookups: string[] = [];

function bound(address: string): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, address, () => resolve(s));
  });
}

/** The first datagram with `xid` that reaches `s` within `ms`, decoded. */
function next(s: Socket, xid: number, ms: number): Promise<DhcpPacket | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      s.off('message', on);
      resolve(undefined);
    }, ms);
    const on = (msg: Buffer) => {
      const p = decodeDhcp(msg);
      if (p.xid !== xid) return;
      clearTimeout(timer);
      s.off('message', on);
      resolve(p);
    };
    s.on('message', on);
  });
}

/** One plan per local address: the answer's next-server shows which address was chosen. */
function planOn(address: string) {
  return planBoot({ serverAddress: address, httpPort: 5248, bios: 'undionly.kpxe', uefi: 'snponly.efi', secureBoot: false });
}

async function startProxy(route: RouteLookup, planFor = planOn): Promise<{ dhcp: number; pxe: number }> {
  const proxy = new ProxyDhcp({
    planFor,
    addresses: () => [],
    log: pino({ level: 'silent' }),
    listen: LISTEN,
    port: 0,
    pxePort: 0,
    clientPort: clientSide.address().port,
    broadcastAddress: LISTEN,
    relayPort: relay.address().port,
    route,
  });
  await proxy.start();
  proxies.push(proxy);
  return proxy.ports();
}

/** A relayed DISCOVER as a relay agent forwards it (RFC 1542 §4.1.1: giaddr set, hops incremented). */
function relayed(arch: number): DhcpPacket {
  const p = buildPxeDiscover({ mac: parseMac('52:54:00:aa:bb:02'), xid: nextXid++, arch });
  p.giaddr = GIADDR;
  p.hops = 1;
  return p;
}

/** Send a relayed DISCOVER from the relay's socket; collect what reaches the relay and the client port. */
async function relay67(port: number, p: DhcpPacket, ms = 1500): Promise<{ toRelay?: DhcpPacket; toClient?: DhcpPacket }> {
  const [toRelay, toClient] = await Promise.all([next(relay, p.xid, ms), next(clientSide, p.xid, ms), Promise.resolve(relay.send(encodeDhcp(p), port, LISTEN))]);
  return { ...(toRelay ? { toRelay } : {}), ...(toClient ? { toClient } : {}) };
}

beforeAll(async () => {
  relay = await bound(GIADDR);
  clientSide = await bound(LISTEN);
});

afterAll(async () => {
  for (const p of proxies) await p.stop();
  relay.close();
  clientSide.close();
});

describe('proxyDHCP answering relayed requests', () => {
  it('unicasts the OFFER to giaddr with the routed address as next-server, not the receiving address', async () => {
    const ports = await startProxy(async (a) => {
      lookups.push(a);
      return a === GIADDR ? { src: ROUTED_SRC, dev: 'br0' } : undefined;
    });
    const { toRelay, toClient } = await relay67(ports.dhcp, relayed(0));
    expect(toClient).toBeUndefined();
    expect([toRelay?.options.get(Opt.messageType)?.[0], toRelay?.giaddr, toRelay?.siaddr, toRelay?.file, toRelay?.yiaddr]).toEqual([
      MessageType.offer,
      GIADDR,
      ROUTED_SRC,
      'undionly.kpxe',
      '0.0.0.0',
    ]);
    // The HTTP boot URL is built on the routed address as well.
    const http = relayed(16);
    http.options.set(Opt.vendorClass, Buffer.from('HTTPClient:Arch:00016:UNDI:003000'));
    expect((await relay67(ports.dhcp, http)).toRelay?.file).toBe(`http://${ROUTED_SRC}:5248/snponly.efi`);
    // Retries from the same relay reuse the cached route instead of forking `ip` per datagram.
    expect(lookups.filter((a) => a === GIADDR)).toHaveLength(1);
  });

  it('stays silent when no local address routes to giaddr', async () => {
    const ports = await startProxy(async () => undefined);
    const { toRelay, toClient } = await relay67(ports.dhcp, relayed(0), 700);
    expect([toRelay, toClient]).toEqual([undefined, undefined]);
  });

  it("asks the kernel's routing table by default", async () => {
    // `ip -4 route get 127.0.0.2` names 127.0.0.1 as the source on every Linux host; a loopback
    // next-server is refused by planBoot, so the plan for it is made on a stand-in address.
    const asked: string[] = [];
    const ports = await startProxy(kernelRoute, (address) => {
      asked.push(address);
      return planOn(address === '127.0.0.1' ? '10.231.160.9' : address);
    });
    expect((await relay67(ports.dhcp, relayed(7))).toRelay?.siaddr).toBe('10.231.160.9');
    expect(asked).toEqual(['127.0.0.1']);
  });
});
