/**
 * The lease hook's view of the servers' calling conventions, turned into one message for edgeboot.
 * Imported by the hook executable, so it uses no module beyond the language itself: keep it that way.
 */

/** Where edgeboot listens for lease reports unless configured otherwise (hook: EDGEBOOT_LEASE_SOCKET or --socket=). */
export const DEFAULT_LEASE_SOCKET = '/run/edgeboot/lease.sock';
/** The shared secret the hook proves itself with (hook: EDGEBOOT_LEASE_SECRET_FILE or --secret-file=). */
export const DEFAULT_LEASE_SECRET_FILE = '/var/lib/edgeboot/lease-hook.secret';

/** What the hook sends over the local channel: one JSON line. */
export interface LeaseReport {
  v: 1;
  secret: string;
  server: 'dnsmasq' | 'isc' | 'kea';
  /** The server's own event name: add/old/del (dnsmasq), commit (ISC), a Kea hook point. */
  event: string;
  mac: string;
  ip: string;
  hostname?: string;
  /** Option 93 values where the server passes them. */
  arches?: number[];
  vendorClass?: string;
  userClass?: string;
  /** Option 97 as hex (type byte and GUID), where the server passes it. */
  uuidHex?: string;
  clientId?: string;
}

/** A report without the secret: what a server call describes, or undefined when the call is not about a lease. */
export type LeaseCall = Omit<LeaseReport, 'v' | 'secret'>;

/** The prefix of the dnsmasq tags the generated config sets per option 93 value. */
const DNSMASQ_ARCH_TAG = /^edgeboot-arch-(\d{1,5})$/;

/** dnsmasq actions that describe a DHCPv4 lease (dnsmasq(8), --dhcp-script). */
const DNSMASQ_LEASE_ACTIONS = new Set(['add', 'old', 'del']);

/** Kea run_script hook points about a single lease in LEASE4_* variables (Kea ARM, "Run Script Support"). */
const KEA_SINGLE = new Set(['lease4_renew', 'lease4_release', 'lease4_expire', 'lease4_recover', 'lease4_decline']);

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** ISC hands byte strings over as `binary-to-ascii(16, 8, ":", …)`: unpadded hex octets. */
function octetsToHex(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const parts = s.split(':');
  if (!parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return undefined;
  return parts.map((p) => p.padStart(2, '0').toLowerCase()).join('');
}

function numbers(s: string | undefined): number[] | undefined {
  if (!s) return undefined;
  const out = s
    .split(',')
    .filter((x) => /^\d{1,5}$/.test(x))
    .map(Number);
  return out.length ? out : undefined;
}

/** dnsmasq: `add|old|del MAC IP [HOSTNAME]`, more facts in DNSMASQ_* variables. */
function fromDnsmasq(argv: string[], env: NodeJS.ProcessEnv): LeaseCall | undefined {
  const [action, mac, ip, hostname] = argv;
  if (!action || !DNSMASQ_LEASE_ACTIONS.has(action) || !mac || !ip || ip.includes(':')) return undefined;
  const arches = (env.DNSMASQ_TAGS ?? '')
    .split(/\s+/)
    .map((t) => DNSMASQ_ARCH_TAG.exec(t)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(Number);
  const userClasses = Object.keys(env)
    .filter((k) => /^DNSMASQ_USER_CLASS\d+$/.test(k))
    .sort((a, b) => Number(a.slice(18)) - Number(b.slice(18)))
    .map((k) => env[k]!);
  return {
    server: 'dnsmasq',
    event: action,
    mac,
    ip,
    hostname: nonEmpty(hostname) ?? nonEmpty(env.DNSMASQ_SUPPLIED_HOSTNAME),
    arches: arches.length ? arches : undefined,
    vendorClass: nonEmpty(env.DNSMASQ_VENDOR_CLASS),
    userClass: userClasses.length ? userClasses.join(' ') : undefined,
    clientId: nonEmpty(env.DNSMASQ_CLIENT_ID),
  };
}

/** ISC dhcpd, from the generated `execute()`: `isc EVENT MAC IP HOSTNAME ARCHES VENDOR USER UUID`. */
function fromIsc(argv: string[]): LeaseCall | undefined {
  const [, event, mac, ip, hostname, arches, vendor, user, uuid] = argv;
  if (!event || !mac || !ip) return undefined;
  return {
    server: 'isc',
    event,
    mac,
    ip,
    hostname: nonEmpty(hostname),
    arches: numbers(arches),
    vendorClass: nonEmpty(vendor),
    userClass: nonEmpty(user),
    uuidHex: octetsToHex(uuid),
  };
}

/** Kea run_script: the hook point name as the only argument, the lease in environment variables. */
function fromKea(argv: string[], env: NodeJS.ProcessEnv): LeaseCall | undefined {
  const point = argv[0]!;
  let prefix: string;
  if (point === 'leases4_committed') {
    if (Number(env.LEASES4_SIZE ?? '0') < 1) return undefined;
    prefix = 'LEASES4_AT0_';
  } else if (KEA_SINGLE.has(point)) {
    prefix = 'LEASE4_';
  } else {
    return undefined;
  }
  const mac = env[`${prefix}HWADDR`];
  const ip = env[`${prefix}ADDRESS`];
  if (!mac || !ip) return undefined;
  return {
    server: 'kea',
    event: point,
    mac,
    ip,
    hostname: nonEmpty(env[`${prefix}HOSTNAME`]),
    clientId: nonEmpty(env[`${prefix}CLIENT_ID`]),
  };
}

/** Which server called, and what it says; undefined for calls that are not about an IPv4 lease. */
export function readServerCall(argv: string[], env: NodeJS.ProcessEnv): LeaseCall | undefined {
  const first = argv[0] ?? '';
  if (first === 'isc') return fromIsc(argv);
  if (/^leases?4_/.test(first)) return fromKea(argv, env);
  return fromDnsmasq(argv, env);
}
