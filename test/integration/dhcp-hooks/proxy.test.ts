import { type Socket, createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import { MetricsRegistry } from '../../../src/core/metrics.js';
import { planBoot } from '../../../src/dhcp-hooks/boot-plan.js';
import { type DhcpPacket, decodeDhcp, encodeDhcp } from '../../../src/dhcp-hooks/dhcp-packet.js';
import { MessageType, Opt } from '../../../src/dhcp-hooks/dhcp-options.js';
import { ProxyDhcp } from '../../../src/dhcp-hooks/proxy-dhcp.js';
import { buildPxeDiscover } from '../../../src/dhcp-hooks/pxe-discover.js';

// proxyDHCP bound to 127.0.0.1 on ephemeral ports; "broadcast" answers go to the test client's port.

const PLAN = planBoot({ serverAddress: '10.0.0.1', httpPort: 5248, bios: 'undionly.kpxe', uefi: 'snponly.efi', secureBoot: false });
const CAPTURE = readFileSync(join(import.meta.dirname, '../../fixtures/dhcp/seabios-ipxe-discover.bin'));

let client: Socket;
let proxy: ProxyDhcp;
let metrics: MetricsRegistry;
let ports: { dhcp: number; pxe: number };
let nextXid = 1000;

function listen(): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => resolve(s));
  });
}

/** Send `packet` to `port` and wait for an answer with the same xid (or undefined after `ms`). */
function exchange(packet: DhcpPacket, port: number, ms = 2_000): Promise<DhcpPacket | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      resolve(undefined);
    }, ms);
    const onMessage = (msg: Buffer) => {
      try {
        const p = decodeDhcp(msg);
        if (p.xid !== packet.xid) return;
        clearTimeout(timer);
        client.off('message', onMessage);
        resolve(p);
      } catch {
        // Not ours.
      }
    };
    client.on('message', onMessage);
    client.send(encodeDhcp(packet), port, '127.0.0.1');
  });
}

function discover(arch = 0): DhcpPacket {
  return buildPxeDiscover({ mac: parseMac('52:54:00:aa:bb:01'), xid: nextXid++, arch });
}

/** proxyDHCP datagrams on port 67 by outcome, from the metrics registry. */
async function counted(outcome?: string): Promise<number> {
  const re = /edgeboot_proxydhcp_packets_total\{outcome="([a-z-]+)",port="dhcp"\} (\d+)/g;
  return [...(await metrics.expose()).matchAll(re)].filter((m) => !outcome || m[1] === outcome).reduce((n, m) => n + Number(m[2]), 0);
}

beforeAll(async () => {
  client = await listen();
  metrics = new MetricsRegistry();
  proxy = new ProxyDhcp({
    planFor: () => PLAN,
    addresses: () => [],
    log: pino({ level: 'silent' }),
    metrics,
    listen: '127.0.0.1',
    port: 0,
    pxePort: 0,
    clientPort: client.address().port,
    broadcastAddress: '127.0.0.1',
  });
  await proxy.start();
  ports = proxy.ports();
});

afterAll(async () => {
  await proxy.stop();
  client.close();
});

describe('proxyDHCP on loopback', () => {
  it('answers a PXE DISCOVER with an OFFER naming the loader and next-server', async () => {
    const a = await exchange(discover(0), ports.dhcp);
    expect([a?.options.get(Opt.messageType)?.[0], a?.file, a?.siaddr, a?.yiaddr]).toEqual([MessageType.offer, 'undionly.kpxe', '10.0.0.1', '0.0.0.0']);
  });

  it('answers the captured iPXE ROM DISCOVER with the HTTP entry script', async () => {
    const p = decodeDhcp(CAPTURE);
    p.xid = nextXid++;
    expect((await exchange(p, ports.dhcp))?.file).toBe('http://10.0.0.1:5248/boot.ipxe');
  });

  it('answers a REQUEST on the PXE port with an ACK', async () => {
    const req = discover(7);
    req.options.set(Opt.messageType, Buffer.from([MessageType.request]));
    const a = await exchange(req, ports.pxe);
    expect([a?.options.get(Opt.messageType)?.[0], a?.file]).toEqual([MessageType.ack, 'snponly.efi']);
  });

  it('stays silent for a client that is not PXE', async () => {
    const req = discover(0);
    req.options.delete(Opt.vendorClass);
    expect(await exchange(req, ports.dhcp, 500)).toBeUndefined();
  });

  it('still answers after 100,000 fuzzed datagrams', async () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed;
    };
    const before = { all: await counted(), error: await counted('error') };
    const sent = 100_000;
    for (let i = 0; i < sent; i++) {
      let b: Buffer;
      const kind = i % 4;
      if (kind === 0) {
        // Pure garbage of any length up to a frame.
        b = Buffer.alloc(rand() % 600);
        for (let k = 0; k < b.length; k++) b[k] = rand() & 0xff;
      } else if (kind === 1) {
        // A real DISCOVER cut short anywhere.
        b = CAPTURE.subarray(0, rand() % CAPTURE.length);
      } else {
        // A real DISCOVER with a few bytes flipped (often still decodable; option lengths lie).
        b = Buffer.from(CAPTURE);
        for (let k = 0; k < 4; k++) b[rand() % b.length] = rand() & 0xff;
      }
      client.send(b, ports.dhcp, '127.0.0.1');
      // Sender and listener share this event loop: yield often so the listener reads every datagram
      // instead of the kernel dropping them from a full socket buffer.
      if (i % 16 === 15) await new Promise((r) => setImmediate(r));
    }
    let seen = -1;
    while (seen !== (await counted())) {
      seen = await counted();
      await new Promise((r) => setTimeout(r, 300));
    }
    const handled = (await counted()) - before.all;
    const malformed = (await counted('error')) - before.error;
    const a = await exchange(discover(0), ports.dhcp);
    console.log(`fuzz: ${sent} sent, ${handled} handled by the listener (${malformed} malformed), then answered: ${a?.file}`);
    expect([a?.file, handled >= sent * 0.95]).toEqual(['undionly.kpxe', true]);
  }, 120_000);
});
