import { type BootPlan, type BootRule, chooseRule } from './boot-plan.js';
import { type ClientFacts, bootClientKind, clientFacts } from './client-facts.js';
import type { DhcpPacket } from './dhcp-packet.js';
import { MessageType, Opt, PXE_USE_BOOTFILE, PxeOpt } from './dhcp-options.js';

/** The BOOTP broadcast bit (RFC 1542 §3.1.1, the top bit of `flags`). */
const BROADCAST_FLAG = 0x8000;

/** Which proxyDHCP port a request arrived on: 67 answers DISCOVER with OFFER, 4011 answers REQUEST/INFORM with ACK. */
export type ProxyPort = 'dhcp' | 'pxe';

/** What the responder decided for one packet. */
export type ProxyDecision =
  | { answer: DhcpPacket; rule: BootRule; facts: ClientFacts }
  | { ignore: string; facts?: ClientFacts };

/** Split an encapsulated option area (option 43 sub-options, PXE 2.1 §2.4) into code → data; malformed areas read as empty. */
export function parseSubOptions(data: Buffer | undefined): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  if (!data) return out;
  let i = 0;
  while (i < data.length) {
    const code = data[i]!;
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    const len = data[i + 1];
    if (len === undefined || i + 2 + len > data.length) return new Map();
    out.set(code, Buffer.from(data.subarray(i + 2, i + 2 + len)));
    i += 2 + len;
  }
  return out;
}

function subOptions(entries: Array<[number, Buffer]>): Buffer {
  return Buffer.concat([...entries.map(([code, data]) => Buffer.concat([Buffer.from([code, data.length]), data])), Buffer.from([255])]);
}

/**
 * Decide the proxyDHCP answer for one request (PXE 2.1 §2.2.5 "proxyDHCP", §2.4 vendor options):
 * only PXE/HTTP boot clients (option 60 `PXEClient…`/`HTTPClient…`) get one; it carries the boot server
 * and file, option 60 echoed, option 97 echoed, and never an address (yiaddr 0.0.0.0).
 */
export function proxyAnswer(req: DhcpPacket, port: ProxyPort, plan: BootPlan): ProxyDecision {
  if (req.op !== 1) return { ignore: 'not a BOOTREQUEST' };
  const facts = clientFacts(req);
  const kind = bootClientKind(facts);
  if (!kind) return { ignore: 'not a PXE or HTTP boot client (option 60)', facts };
  const type = facts.messageType;
  let replyType: number;
  if (port === 'dhcp') {
    if (type !== MessageType.discover) return { ignore: 'proxyDHCP on port 67 answers DISCOVER only', facts };
    replyType = MessageType.offer;
  } else {
    if (type !== MessageType.request && type !== MessageType.inform) return { ignore: 'port 4011 answers REQUEST and INFORM only', facts };
    replyType = MessageType.ack;
  }
  const rule = chooseRule(plan, facts);
  if (!rule) return { ignore: `no loader for client architecture ${facts.arches.join(',') || 'none'}`, facts };
  // A URL goes only to iPXE and to UEFI HTTP Boot firmware; a PXE ROM claiming an HTTP arch gets nothing.
  if (rule.httpClient && kind !== 'http') return { ignore: `client architecture ${facts.arches.join(',')} is HTTP boot but option 60 is not HTTPClient`, facts };
  const options = new Map<number, Buffer>();
  options.set(Opt.messageType, Buffer.from([replyType]));
  options.set(Opt.serverId, Buffer.from(plan.serverAddress.split('.').map(Number)));
  options.set(Opt.vendorClass, Buffer.from(kind === 'http' ? 'HTTPClient' : 'PXEClient'));
  if (facts.uuidRaw) options.set(Opt.clientUuid, facts.uuidRaw);
  if (kind === 'pxe') {
    const vendor: Array<[number, Buffer]> = [[PxeOpt.discoveryControl, Buffer.from([PXE_USE_BOOTFILE])]];
    // A boot-server request names the item it wants (PXE 2.1 §2.2.6); echo it so the client accepts the ACK.
    const item = parseSubOptions(req.options.get(Opt.vendorSpecific)).get(PxeOpt.bootItem);
    if (port === 'pxe' && item?.length === 4) vendor.push([PxeOpt.bootItem, item]);
    options.set(Opt.vendorSpecific, subOptions(vendor));
  }
  // A relay unicasts a reply to yiaddr unless the broadcast bit is set (RFC 2131 §4.1); a proxy answer has no
  // yiaddr, so through a relay it must ask for a broadcast on the client's subnet or it goes nowhere
  // (seen with dnsmasq --dhcp-relay: the iPXE ROM never saw the offer).
  const viaRelay = port === 'dhcp' && req.giaddr !== '0.0.0.0';
  const answer: DhcpPacket = {
    op: 2,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    flags: viaRelay ? req.flags | BROADCAST_FLAG : req.flags,
    ciaddr: port === 'pxe' ? req.ciaddr : '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: plan.serverAddress,
    giaddr: req.giaddr,
    chaddr: req.chaddr,
    sname: '',
    file: rule.filename,
    options,
  };
  return { answer, rule, facts };
}
