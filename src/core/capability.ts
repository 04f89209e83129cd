import { createHmac, timingSafeEqual } from 'node:crypto';
import { EdgebootError } from './errors.js';
import { eui64FromMac, interfaceId6, isIpv6, normaliseIp, sameSubnet6 } from './ip.js';
import type { MacAddress } from './mac.js';

/** Why a capability was refused; each maps to one sentence for the 403 body. */
export type CapabilityRefusal = 'malformed' | 'bad-signature' | 'expired' | 'wrong-ip';

/** Sentences sent with 403; they never echo the capability. */
export const REFUSAL_MESSAGES: Record<CapabilityRefusal, string> = {
  malformed: 'This answer-file URL is not a valid signed URL.',
  'bad-signature': 'This answer-file URL carries a signature this appliance does not accept.',
  expired: 'This answer-file URL has expired; boot the machine again for a new one.',
  'wrong-ip': 'This answer-file URL was issued to another IP address.',
};

const ANY_IP = 'any';

/** Options of the signer: the HMAC key, URL lifetime, and whether URLs are bound to the client IP. */
export interface CapabilityOptions {
  key: Buffer;
  ttlSeconds: number;
  bindIp: boolean;
  now?: () => number;
  /**
   * Expiries are rounded down to a multiple of this many seconds, so one (MAC, IP) gets the same URL for the
   * whole bucket and is signed once per bucket. Default: a sixtieth of the lifetime, between 1 and 60 s; a URL
   * never outlives `ttlSeconds`.
   */
  bucketSeconds?: number;
}

/** Signed tokens remembered for their bucket; beyond this many (MAC, IP) pairs the oldest are forgotten. */
const MEMO_LIMIT = 65_536;

/**
 * Signs and checks answer-file capabilities: HMAC-SHA256 over (MAC, expiry, bound IP).
 * Stateless, so every appliance holding the same key accepts them.
 */
export class CapabilitySigner {
  readonly #o: CapabilityOptions;
  readonly #bucket: number;
  readonly #memo = new Map<string, { exp: number; token: string }>();

  constructor(options: CapabilityOptions) {
    if (options.key.length < 32) throw new EdgebootError('E_CAPABILITY', 'the URL-signing key must be at least 32 bytes');
    this.#o = options;
    this.#bucket = Math.max(1, Math.floor(options.bucketSeconds ?? Math.min(60, options.ttlSeconds / 60)));
  }

  #now(): number {
    return Math.floor((this.#o.now ?? Date.now)() / 1000);
  }

  #mac(mac: string, exp: number, ip: string): Buffer {
    return createHmac('sha256', this.#o.key).update(`edgeboot-v1|${mac}|${exp}|${ip}`).digest();
  }

  /** A capability token (one URL path segment) for `mac`, bound to `clientIp` unless binding is relaxed; signed once per bucket. */
  sign(mac: MacAddress, clientIp: string): string {
    const now = this.#now();
    // Rounded down, not up: a URL lives at most ttlSeconds, at least ttlSeconds minus one bucket.
    const exp = now - (now % this.#bucket) + this.#o.ttlSeconds;
    const ip = this.#o.bindIp ? normaliseIp(clientIp) : ANY_IP;
    const key = `${mac}|${ip}`;
    const known = this.#memo.get(key);
    if (known?.exp === exp) return known.token;
    const ipEnc = Buffer.from(ip).toString('base64url');
    const token = `${exp.toString(36)}.${ipEnc}.${this.#mac(mac, exp, ip).toString('base64url')}`;
    this.#memo.delete(key);
    if (this.#memo.size >= MEMO_LIMIT) this.#memo.delete(this.#memo.keys().next().value!);
    this.#memo.set(key, { exp, token });
    return token;
  }

  /**
   * Check a capability for `mac` presented from `requestIp`. `otherIps` are further addresses
   * the MAC is known to hold (DHCP leases). `linkPeer` is the link-layer address this host's neighbour
   * table holds for `requestIp`, when the caller looked it up. Returns undefined when accepted.
   */
  verify(mac: MacAddress, token: string, requestIp: string, otherIps: Iterable<string> = [], linkPeer?: MacAddress): CapabilityRefusal | undefined {
    const m = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return 'malformed';
    const exp = Number.parseInt(m[1]!, 36);
    const ip = Buffer.from(m[2]!, 'base64url').toString();
    // Only the canonical spelling is accepted: base64url's last character carries padding bits, and a URL
    // that differs from the issued one in them must not verify too.
    if (Buffer.from(ip).toString('base64url') !== m[2]) return 'malformed';
    const given = Buffer.from(m[3]!, 'ascii');
    const want = Buffer.from(this.#mac(mac, exp, ip).toString('base64url'), 'ascii');
    if (given.length !== want.length || !timingSafeEqual(given, want)) return 'bad-signature';
    if (this.#now() > exp) return 'expired';
    if (!this.#o.bindIp) return undefined;
    // A URL signed while binding was relaxed is not good enough once binding is back on.
    if (ip === ANY_IP) return 'wrong-ip';
    const from = normaliseIp(requestIp);
    if (from === ip) return undefined;
    for (const other of otherIps) if (normaliseIp(other) === from) return undefined;
    if (sameIpv6Host(mac, ip, from, linkPeer)) return undefined;
    return 'wrong-ip';
  }
}

/**
 * The IPv6 rule of the binding. One IPv6 host holds several addresses on one interface — the one DHCPv6 gave
 * iPXE, the installer's SLAAC address, privacy addresses — so a URL bound to one of them is accepted from
 * another when both are in the same /64 AND the requester is provably the node's interface: its interface
 * identifier is the node MAC's modified EUI-64 (SLAAC), or this host's neighbour table maps the requester's
 * address to the node's MAC (privacy and DHCPv6 addresses). Another host in the /64 has neither.
 */
export function sameIpv6Host(mac: MacAddress, bound: string, from: string, linkPeer: MacAddress | undefined): boolean {
  if (!isIpv6(bound) || !isIpv6(from) || !sameSubnet6(bound, from, 64)) return false;
  if (interfaceId6(from) === eui64FromMac(mac)) return true;
  return linkPeer !== undefined && linkPeer === mac;
}
