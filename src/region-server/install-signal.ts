import { createHash, timingSafeEqual } from 'node:crypto';
import { EdgebootError } from '../core/errors.js';
import type { Node } from '../core/node.js';

/** The three parts of a node token as an installer presents them (OAuth 1.0 PLAINTEXT). */
export interface PresentedToken {
  consumerKey: string;
  tokenKey: string;
  tokenSecret: string;
}

/** What an installer asked for: the end of its install, or a progress/result report. */
export type InstallSignal =
  | { kind: 'signal'; status: 'OK' | 'FAILED' | 'WORKING'; reason?: string }
  | { kind: 'report'; origin: string; name: string; eventType: string; result?: string; description?: string };

/** The state change a signal asks for, or none (a progress report, or a repeat of one already applied). */
export interface Transition {
  to?: string;
  reason?: string;
  /** Why nothing changes, for the answer and the log. */
  note: string;
}

/** The state a failed install leaves a node in (MAAS's "Failed deployment"). */
export const FAILED_DEPLOYMENT = 'failed_deployment';

/**
 * Read `Authorization: OAuth …, oauth_consumer_key="…", oauth_token="…", oauth_signature="&…"` (PLAINTEXT,
 * as d-i's curl and cloud-init's webhook reporter send it; the latter percent-encodes the `&`).
 */
export function parseOAuthPlaintext(header: string | undefined): PresentedToken | undefined {
  if (!header || !/^OAuth\s/i.test(header) || header.length > 4096) return undefined;
  const fields = new Map<string, string>();
  for (const m of header.slice(6).matchAll(/([a-z_]+)\s*=\s*"([^"]*)"/gi)) {
    let value: string;
    try {
      value = decodeURIComponent(m[2]!);
    } catch {
      return undefined;
    }
    fields.set(m[1]!.toLowerCase(), value);
  }
  const method = fields.get('oauth_signature_method');
  if (method !== undefined && method.toUpperCase() !== 'PLAINTEXT') return undefined;
  const consumerKey = fields.get('oauth_consumer_key');
  const tokenKey = fields.get('oauth_token');
  const signature = fields.get('oauth_signature');
  // PLAINTEXT signature = consumer secret (empty for node tokens) & token secret.
  if (!consumerKey || !tokenKey || !signature?.startsWith('&') || signature.length < 2) return undefined;
  return { consumerKey, tokenKey, tokenSecret: signature.slice(1) };
}

function same(a: string, b: string): boolean {
  // Digests make the comparison constant-time whatever the lengths.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** The node whose own token `t` is, or undefined: a signal is authenticated by that node's token alone. */
export function nodeOfToken(nodes: readonly Node[], t: PresentedToken): Node | undefined {
  let found: Node | undefined;
  for (const n of nodes) {
    if (!n.token) continue;
    const ok = same(n.token.tokenKey.reveal(), t.tokenKey) && same(n.token.consumerKey.reveal(), t.consumerKey) && same(n.token.tokenSecret.reveal(), t.tokenSecret);
    if (ok) found ??= n;
  }
  return found;
}

// Region text ends up in inventory YAML and boot scripts: printable ASCII, one line, bounded.
function printable(v: unknown, max = 200): string {
  return String(v ?? '')
    .replace(/[^\x20-\x7e]/g, ' ')
    .trim()
    .slice(0, max);
}

/** Read a signal from the request's query and body (`op=signal&status=…&error=…`, as MAAS's metadata API takes). */
export function readSignal(query: Record<string, unknown>, body: unknown): InstallSignal {
  const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const op = String(query.op ?? b.op ?? '');
  if (op !== 'signal') throw new EdgebootError('E_SIGNAL', 'The metadata API only takes op=signal here.');
  const status = String(query.status ?? b.status ?? '').toUpperCase();
  if (status !== 'OK' && status !== 'FAILED' && status !== 'WORKING') throw new EdgebootError('E_SIGNAL', 'status must be OK, FAILED or WORKING.');
  const reason = printable(query.error ?? b.error ?? '');
  return { kind: 'signal', status, reason: reason || undefined };
}

/** Read one cloud-init/curtin webhook event (`{origin, name, event_type, result, description}`). */
export function readReport(body: unknown): InstallSignal {
  const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const name = printable(b.name, 100);
  const eventType = printable(b.event_type, 20);
  if (!name || !eventType) throw new EdgebootError('E_SIGNAL', 'A report needs at least "name" and "event_type".');
  return { kind: 'report', origin: printable(b.origin, 40), name, eventType, result: printable(b.result, 20) || undefined, description: printable(b.description) || undefined };
}

/**
 * What a signal does to a node. `OK` (or cloud-init's successful `modules-final`) moves `deploying` to
 * `deployed`; `FAILED` (or any failed finish event) moves it to `failed_deployment` with the reason.
 * A repeat of a signal already applied changes nothing (idempotent); a signal for a node that is not
 * deploying is refused.
 */
export function transitionFor(node: Node, s: InstallSignal): Transition {
  let to: string | undefined;
  let reason: string | undefined;
  if (s.kind === 'signal') {
    if (s.status === 'WORKING') return { note: 'progress noted' };
    to = s.status === 'OK' ? 'deployed' : FAILED_DEPLOYMENT;
    reason = s.status === 'FAILED' ? `installation failed: ${s.reason ?? 'no reason given'}`.slice(0, 200) : undefined;
  } else {
    if (s.eventType !== 'finish') return { note: 'report noted' };
    if (s.result === 'FAIL') {
      to = FAILED_DEPLOYMENT;
      reason = `installation failed in ${s.origin || 'installer'} ${s.name}: ${s.description ?? ''}`.trim().slice(0, 200);
    } else if (s.result === 'SUCCESS' && s.origin === 'cloudinit' && s.name === 'modules-final') to = 'deployed';
    else return { note: 'report noted' };
  }
  if (node.status === to) return { note: `already ${to}` };
  if (node.status !== 'deploying') {
    if (s.kind === 'report') return { note: `report noted (node is ${node.status}, not deploying)` };
    throw new EdgebootError('E_BUSY', `node ${node.systemId} is ${node.status}, not deploying.`);
  }
  return { to, reason, note: `deploying -> ${to}` };
}
