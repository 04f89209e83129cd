import type { Logger } from 'pino';
import type { CapabilityRefusal, CapabilitySigner } from '../core/capability.js';
import { EdgebootError } from '../core/errors.js';
import { httpBase, isIpv4, isIpv6, normaliseIp } from '../core/ip.js';
import type { MacAddress } from '../core/mac.js';
import type { Node } from '../core/node.js';
import type { SystemUuid } from '../core/uuid.js';
import { renderEntryScript, renderGrubEntry } from '../render/entry-script.js';
import type { Kind } from '../render/kinds.js';
import type { RenderResult, Renderer } from '../render/renderer.js';
import { isAnswerKind, type ServerEndpoint } from '../render/view-model.js';
import { hexOfIpv4, parseVirtualPath } from '../render/virtual-path.js';
import { classifyFile } from '../observe/classify.js';
import { classifyMiss, missDetail } from '../observe/not-found.js';
import type { BootEvent, BootTimeline } from '../observe/timeline.js';
import { type BootEventSink, bootEventForFile } from '../observe/boot-milestones.js';
import type { DiscoveryLog } from '../observe/discoveries.js';
import type { LeaseBook } from '../observe/lease-book.js';
import type { NodeSource, NodeStore } from '../sync/nodes/index.js';

/** Neighbour-table lookups (one `ip` process each) allowed in flight at once for the timeline. */
const MAX_NEIGHBOUR_LOOKUPS = 4;

/** Who is asking and through which local address: the facts every render needs. */
export interface BootRequest {
  kind: Kind;
  mac?: MacAddress;
  uuid?: SystemUuid;
  buildarch?: string;
  clientIp: string;
  /** The local address the request arrived on. */
  localAddress: string;
  via: 'http' | 'tftp';
}

/** A rendered text plus the node it was for. */
export interface BootAnswer extends Partial<RenderResult> {
  text: string;
  node?: Node;
}

/** Everything the boot service is composed from. */
export interface BootServiceOptions {
  source: NodeSource;
  store: NodeStore;
  renderer: Renderer;
  signer: CapabilitySigner;
  leases: LeaseBook;
  discoveries: DiscoveryLog;
  log: Logger;
  serverAddress: string;
  httpPort: number;
  retrySeconds: number;
  /** Where boot milestones go (the region's events endpoint); none when absent. */
  events?: BootEventSink;
  /** Where boot milestones are recorded for the timeline API (optional for offline verbs). */
  timeline?: BootTimeline;
  /** The link-layer address this host's neighbour table holds for an IPv6 address (net/neighbours.ts). */
  neighbourMac?: (ip: string) => Promise<MacAddress | undefined>;
}

/** Node lookup + rendering shared by the HTTP and TFTP edges. */
export class BootService {
  readonly #o: BootServiceOptions;
  #httpPort: number;
  /** IPv6 addresses whose neighbour-table lookup is in flight (for the timeline). */
  readonly #lookups = new Set<string>();
  /** Timeline details of rendered results, kept as long as the result is (the render cache holds it). */
  readonly #details = new WeakMap<RenderResult, string>();
  /** The entry script by the local address it was rendered for (and the port it names). */
  readonly #entries = new Map<string, { port: number; text: string }>();

  constructor(options: BootServiceOptions) {
    this.#o = options;
    this.#httpPort = options.httpPort;
  }

  /** The HTTP port rendered into URLs: set once the listener is bound (it may be an ephemeral port). */
  setHttpPort(port: number): void {
    this.#httpPort = port;
  }

  /** The server address to put into rendered text: the configured one, or the one the request arrived on. */
  endpoint(localAddress: string): ServerEndpoint {
    const configured = this.#o.serverAddress !== 'auto' ? this.#o.serverAddress : undefined;
    // The plain address: URL builders bracket IPv6 literals themselves (core/ip.ts urlHost).
    return { address: configured ?? normaliseIp(localAddress), httpPort: this.#httpPort };
  }

  /** Look a machine up by MAC, then UUID. */
  async find(mac?: MacAddress, uuid?: SystemUuid): Promise<Node | undefined> {
    if (!mac && !uuid) return undefined;
    return this.#o.source.lookup({ mac, uuid });
  }

  /** Render `req.kind` for the machine; unknown MACs are recorded as discoveries. */
  async render(req: BootRequest): Promise<BootAnswer> {
    return this.#renderFor(await this.find(req.mac, req.uuid), req);
  }

  /**
   * `render` without a promise: the node is read from the store the feeds keep (every feed's lookup is that
   * store's synchronous find), so a cached script is answered in the same turn, with no microtask hops.
   */
  renderNow(req: BootRequest): BootAnswer {
    const node = req.mac || req.uuid ? this.#o.store.find({ mac: req.mac, uuid: req.uuid }) : undefined;
    return this.#renderFor(node, req);
  }

  #renderFor(node: Node | undefined, req: BootRequest): BootAnswer {
    const mac = req.mac ?? node?.macs[0];
    const ip = normaliseIp(req.clientIp);
    if (!node && req.mac && this.#o.store.loaded) {
      this.#o.discoveries.see({ mac: req.mac, uuid: req.uuid, arch: req.buildarch, ip, via: req.via });
    }
    const stage = isAnswerKind(req.kind) ? 'answer' : 'script';
    let result: RenderResult;
    try {
      result = this.#o.renderer.render({
        kind: req.kind,
        node,
        mac,
        buildarch: req.buildarch,
        server: this.endpoint(req.localAddress),
        clientIp: req.clientIp,
      });
    } catch (err) {
      if (mac) this.#o.timeline?.record(mac, { at: Date.now(), stage, via: req.via, detail: req.kind, outcome: (err as EdgebootError).code ?? 'error' });
      throw err;
    }
    if (mac && this.#o.timeline) {
      if (stage === 'script') this.#o.timeline.learnIp(ip, mac);
      this.#o.timeline.record(mac, { at: Date.now(), stage, via: req.via, detail: this.#eventDetail(stage, req.kind, result), outcome: 'ok' });
    }
    if (result.decision.warn) {
      this.#o.log.warn({ mac: req.mac, state: node?.status, purpose: result.decision.purpose }, result.decision.reason);
    }
    this.#o.events?.emitBootEvent({
      kind: isAnswerKind(req.kind) ? 'answer-fetched' : 'script-served',
      mac,
      systemId: node?.systemId,
      detail: `${req.kind} ${result.decision.purpose} via ${req.via}`,
    });
    // Spelled out rather than spread: this runs on every boot request.
    return { text: result.text, decision: result.decision, template: result.template, tried: result.tried, node };
  }

  /**
   * The timeline detail of a served script, "<purpose> <kind>/<template>": made once per rendered result (a
   * cached script is the same result object on every request), not concatenated per request.
   */
  #eventDetail(stage: 'script' | 'answer', kind: Kind, result: RenderResult): string {
    if (stage !== 'script') return kind;
    let detail = this.#details.get(result);
    if (detail === undefined) {
      detail = `${result.decision.purpose} ${kind}/${result.template.name}`;
      this.#details.set(result, detail);
    }
    return detail;
  }

  /** The iPXE entry script for a client that arrived on `localAddress`. */
  entryScript(localAddress: string): string {
    const known = this.#entries.get(localAddress);
    if (known && known.port === this.#httpPort) return known.text;
    const ep = this.endpoint(localAddress);
    const text = renderEntryScript(httpBase(ep.address, ep.httpPort), this.#o.retrySeconds);
    // Kept per local address (a host has a handful); bounded all the same, as the key comes from the socket.
    if (this.#entries.size >= 64) this.#entries.clear();
    this.#entries.set(localAddress, { port: this.#httpPort, text });
    return text;
  }

  /**
   * Render a virtual file by name (`boot.ipxe`, `pxelinux.cfg/…`, `grub/grub.cfg…`), or return undefined
   * when the name is an ordinary file. Throws E_NOT_FOUND for a virtual name that identifies no machine
   * (so PXELINUX moves on to its next candidate).
   */
  async virtualFile(name: string, ctx: { clientIp: string; localAddress: string; via: 'http' | 'tftp' }): Promise<BootAnswer | undefined> {
    const v = parseVirtualPath(name);
    if (!v) return undefined;
    if (v.type === 'entry') return { text: this.entryScript(ctx.localAddress) };
    if (v.type === 'grub-entry') return { text: renderGrubEntry() };
    if (v.type === 'default') return this.render({ kind: v.kind, ...ctx });
    let mac = v.mac;
    if (v.hexIp) {
      // PXELINUX asks for hex-IP names only when 01-<mac> failed; answer only for the client's own address.
      const ip = normaliseIp(ctx.clientIp);
      const leased = isIpv4(ip) && hexOfIpv4(ip).startsWith(v.hexIp) && v.hexIp.length === 8 ? this.#o.leases.macFor(ip) : undefined;
      if (!leased) throw new EdgebootError('E_NOT_FOUND', `no machine is known at ${v.hexIp}`);
      mac = leased;
    }
    if (v.uuid && !(await this.find(undefined, v.uuid))) {
      throw new EdgebootError('E_NOT_FOUND', `no machine is known with UUID ${v.uuid}`);
    }
    return this.render({ kind: v.kind, mac, uuid: v.uuid, ...ctx });
  }

  /**
   * Check an answer-file capability presented by `clientIp`; undefined means accepted. An IPv6 requester
   * the binding refuses at first is looked up in the neighbour table once: the node's own SLAAC or privacy
   * address on the same link is its MAC there (core/capability.ts sameIpv6Host).
   */
  async verifyAnswer(mac: MacAddress, capability: string, clientIp: string): Promise<CapabilityRefusal | undefined> {
    const leased = this.#o.leases.ipsFor(mac);
    let refusal = this.#o.signer.verify(mac, capability, clientIp, leased);
    const from = normaliseIp(clientIp);
    if (refusal === 'wrong-ip' && isIpv6(from) && this.#o.neighbourMac) {
      refusal = this.#o.signer.verify(mac, capability, clientIp, leased, await this.#o.neighbourMac(from));
    }
    if (refusal) this.#o.timeline?.record(mac, { at: Date.now(), stage: 'answer-refused', via: 'http', detail: normaliseIp(clientIp), outcome: refusal });
    return refusal;
  }

  /**
   * A request over `via` for a file that does not exist: a missing file goes on the timeline and is worth an
   * info line (it is usually why a boot stopped); shim's optional probes and config-search names are expected
   * misses, worth a debug line only. Returns the level and the loggable name.
   */
  noteMiss(clientIp: string, name: string, via: 'tftp' | 'http'): { level: 'info' | 'debug'; detail: string } {
    const detail = missDetail(name);
    if (classifyMiss(name) !== 'missing') return { level: 'debug', detail };
    this.recordFile(clientIp, { stage: classifyFile(name), via, detail, outcome: 'not found' });
    return { level: 'info', detail };
  }

  /**
   * An IPv6 client's first-stage loader comes from the firmware's own DHCPv6 address, which no lease report
   * and no later script request names (iPXE and the installer take addresses of their own): the neighbour
   * table, which holds the MAC of every on-link address that just talked to us, ties it to the machine.
   * At most a few lookups run at once, so a flood of unknown addresses cannot spawn a process each.
   */
  #learnFromNeighbours(ip: string, t: BootTimeline): void {
    const lookup = this.#o.neighbourMac;
    if (!lookup || !isIpv6(ip) || this.#lookups.has(ip) || this.#lookups.size >= MAX_NEIGHBOUR_LOOKUPS) return;
    this.#lookups.add(ip);
    lookup(ip)
      .then((mac) => {
        if (mac) t.learnIp(ip, mac);
      })
      .catch(() => undefined)
      .finally(() => this.#lookups.delete(ip));
  }

  /** Record a file fetched by `clientIp` (loader, kernel, initrd…) on the timeline of the MAC known at that IP. */
  recordFile(clientIp: string, event: Omit<BootEvent, 'at'>): void {
    const t = this.#o.timeline;
    if (!t) return;
    const ip = normaliseIp(clientIp);
    const mac = t.macAt(ip) ?? this.#o.leases.macFor(ip);
    if (!mac) {
      // The lease report may still be on its way (or, behind proxyDHCP, never come): attribute it later.
      t.holdForIp(ip, { at: Date.now(), ...event });
      this.#learnFromNeighbours(ip, t);
      return;
    }
    t.record(mac, { at: Date.now(), ...event });
    const kind = event.outcome === 'ok' ? bootEventForFile(event.detail) : undefined;
    if (kind) this.#o.events?.emitBootEvent({ kind, mac, systemId: this.#o.store.byMac(mac)?.systemId, detail: `${event.detail} via ${event.via}` });
  }
}
