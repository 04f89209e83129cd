import { answerFile } from './answers.js';
import { bootFile } from './files.js';
import type { BootRouteDeps } from './render-script.js';
import { bootIpxe, ipxeConfig, ipxeNode } from './scripts.js';
import type { RouteAnswer, RouteRequest } from './types.js';

/** A matched boot route: its name for logs/metrics and the call that answers it. */
export interface MatchedRoute {
  name: string;
  answer: () => Promise<RouteAnswer> | RouteAnswer;
}

// Management paths stay with express (status page, API, metrics, health); matched like express does:
// case-insensitive, an optional trailing slash.
const MANAGEMENT = /^\/(?:|healthz\/?|metrics\/?|api\/.*|nodes\/.*)$/i;
const NODE = /^\/ipxe\/node\/([^/]+)\/?$/i;
const ANSWERS = /^\/answers\/([^/]+)\/([^/]+)\/([^/]+)\/?$/i;
const SCRIPT_ROUTES = /^\/(?:boot\.ipxe|ipxe_config)\/?$/i;

/** True for the paths express keeps (the status page, /api/v1/…, /metrics, /healthz). */
export function isManagementPath(path: string): boolean {
  return MANAGEMENT.test(path);
}

function param(raw: string): string {
  // A malformed escape is a bad request, as express reports it.
  try {
    return decodeURIComponent(raw);
  } catch {
    throw Object.assign(new Error('bad escape'), { status: 400 });
  }
}

/** Match a boot path to its route; every path that is not management is a boot route (files are the fallback). */
export function matchBootRoute(d: BootRouteDeps, req: RouteRequest): MatchedRoute {
  const get = req.method === 'GET' || req.method === 'HEAD';
  if (get) {
    const script = SCRIPT_ROUTES.exec(req.path);
    if (script) {
      return req.path.toLowerCase().startsWith('/boot.ipxe')
        ? { name: 'boot.ipxe', answer: () => bootIpxe(d, req) }
        : { name: 'ipxe_config', answer: () => ipxeConfig(d, req) };
    }
    const node = NODE.exec(req.path);
    if (node) return { name: 'ipxe-node', answer: () => ipxeNode(d, req, param(node[1]!)) };
    const ans = ANSWERS.exec(req.path);
    if (ans) return { name: 'answers', answer: () => answerFile(d, req, param(ans[1]!), param(ans[2]!), param(ans[3]!)) };
  }
  return { name: 'file', answer: () => bootFile(d, req) };
}
