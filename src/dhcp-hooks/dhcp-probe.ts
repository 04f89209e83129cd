import { randomBytes } from 'node:crypto';
import { type Socket, createSocket } from 'node:dgram';
import { EdgebootError, messageOf } from '../core/errors.js';
import { type MacAddress, parseMac } from '../core/mac.js';
import type { LocalAddress } from '../net/interfaces.js';
import { decodeDhcp, encodeDhcp } from './dhcp-packet.js';
import { MessageType, Opt, messageTypeName } from './dhcp-options.js';
import { buildPxeDiscover } from './pxe-discover.js';

/** One server that answered the probe, and what it offered. */
export interface ProbeOffer {
  /** Option 54 (server identifier), else the datagram's source address. */
  server: string;
  from: string;
  type: string;
  /** yiaddr: the address offered (0.0.0.0 for a proxyDHCP server). */
  offeredIp: string;
  nextServer: string;
  filename: string;
  /** Option 66, when sent. */
  tftpServer?: string;
  vendorClass?: string;
  proxy: boolean;
}

/** What to probe with. */
export interface ProbeOptions {
  iface: string;
  addresses: LocalAddress[];
  /** chaddr of the DISCOVER; default the interface's own MAC. */
  mac?: string;
  arch?: number;
  timeoutMs?: number;
  clientPort?: number;
  serverPort?: number;
}

function bind(port: number, address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4', reuseAddr: true });
    s.once('error', reject);
    s.bind(port, address, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

function text(b: Buffer | undefined): string | undefined {
  return b?.length ? b.toString('latin1').replace(/\0+$/, '') : undefined;
}

/**
 * Broadcast a PXE DHCPDISCOVER out of `iface` (sent twice) and collect every OFFER for it until the timeout
 * (RFC 2131 §4.4.1: a client may receive offers from several servers). Needs UDP 68 and a local IPv4
 * address on the interface; run as root or with CAP_NET_BIND_SERVICE.
 */
export async function probeDhcp(o: ProbeOptions): Promise<ProbeOffer[]> {
  const addr = o.addresses.find((a) => a.iface === o.iface && a.family === 'IPv4');
  if (!addr) throw new EdgebootError('E_DHCP', `interface ${o.iface} has no IPv4 address to probe from; give it one or pick another with --interface`);
  let mac: MacAddress;
  try {
    mac = parseMac(o.mac ?? addr.mac);
  } catch (err) {
    throw new EdgebootError('E_DHCP', `no usable MAC for ${o.iface}: ${messageOf(err)}; pass --mac`, { cause: err });
  }
  const clientPort = o.clientPort ?? 68;
  const xid = randomBytes(4).readUInt32BE(0);
  const offers = new Map<string, ProbeOffer>();
  let rx: Socket | undefined;
  let tx: Socket | undefined;
  try {
    // Offers come back broadcast to 255.255.255.255:68, which only a wildcard-bound socket hears.
    rx = await bind(clientPort, '0.0.0.0');
    // Sending from a socket bound to the interface's address makes a limited broadcast leave through that interface.
    tx = await bind(clientPort, addr.address);
    tx.setBroadcast(true);
    const onMessage = (msg: Buffer, rinfo: { address: string }) => {
      let p: ReturnType<typeof decodeDhcp>;
      try {
        p = decodeDhcp(msg);
      } catch {
        return;
      }
      const type = p.options.get(Opt.messageType)?.[0];
      if (p.op !== 2 || p.xid !== xid || type !== MessageType.offer) return;
      const sid = p.options.get(Opt.serverId);
      const server = sid?.length === 4 ? [...sid].join('.') : rinfo.address;
      // One host may run both a DHCP server and a proxyDHCP responder: key on both.
      offers.set(`${server}|${p.yiaddr === '0.0.0.0' ? 'proxy' : 'dhcp'}`, {
        server,
        from: rinfo.address,
        type: messageTypeName(type),
        offeredIp: p.yiaddr,
        nextServer: p.siaddr,
        filename: p.file || text(p.options.get(Opt.bootfileName)) || '',
        tftpServer: text(p.options.get(Opt.tftpServerName)),
        vendorClass: text(p.options.get(Opt.vendorClass)),
        proxy: p.yiaddr === '0.0.0.0',
      });
    };
    rx.on('message', onMessage);
    tx.on('message', onMessage);
    const packet = encodeDhcp(buildPxeDiscover({ mac, xid, arch: o.arch }));
    const sender = tx;
    const send = () =>
      new Promise<void>((resolve, reject) => sender.send(packet, o.serverPort ?? 67, '255.255.255.255', (err) => (err ? reject(err) : resolve())));
    const timeout = o.timeoutMs ?? 5_000;
    await send();
    // Retransmit once, as clients do (RFC 2131 §4.1): a server may drop the first DISCOVER while it
    // pings the address it means to offer (dnsmasq waits up to 3 s for that).
    await new Promise((r) => setTimeout(r, timeout / 2));
    await send();
    await new Promise((r) => setTimeout(r, timeout / 2));
  } catch (err) {
    if (err instanceof EdgebootError) throw err;
    throw new EdgebootError('E_DHCP', `the DHCP probe on ${o.iface} failed: ${messageOf(err)}`, { cause: err });
  } finally {
    rx?.close();
    tx?.close();
  }
  return [...offers.values()];
}
