import { EdgebootError, messageOf } from '../core/errors.js';
import type { MacAddress } from '../core/mac.js';
import type { Node, Snapshot } from '../core/node.js';
import type { Kind } from './kinds.js';
import { RenderCache, type RenderCacheLimits } from './render-cache.js';
import { decidePurpose, type PurposeDecision } from './purpose.js';
import { lookupKeyFor, templateCandidates } from './template-lookup.js';
import type { Resolution, TemplateStore } from './template-store.js';
import { buildView, isAnswerKind, type ServerEndpoint } from './view-model.js';

/** One render: who is asking, for what, and through which server address. */
export interface RenderRequest {
  kind: Kind;
  node?: Node;
  mac?: MacAddress;
  buildarch?: string;
  server: ServerEndpoint;
  /** The client's IP, bound into any answer-file URL the text contains. */
  clientIp: string;
}

/** The rendered text and how it was decided. */
export interface RenderResult {
  text: string;
  decision: PurposeDecision;
  template: { name: string; origin: string };
  tried: Resolution['tried'];
}

/** What the renderer needs from outside; all of it injected, none of it I/O. */
export interface RendererOptions {
  templates: TemplateStore;
  snapshot: () => Snapshot | undefined;
  /** Answer-file capability prefix (`/answers/<mac>/<cap>`) for a MAC and the client IP it is bound to. */
  answerPrefix: (mac: MacAddress, clientIp: string) => string;
  retrySeconds?: number;
  /**
   * Bounds of the in-memory cache of rendered boot scripts (answer files, which carry the node's token, are
   * never cached); `false` renders every request.
   */
  cache?: Partial<RenderCacheLimits> | false;
}

/** Pure rendering: node + request + server address → text, via the MAAS-order template lookup. */
export class Renderer {
  readonly #o: RendererOptions;
  readonly #cache: RenderCache<RenderResult> | undefined;

  constructor(options: RendererOptions) {
    this.#o = options;
    this.#cache = options.cache === false ? undefined : new RenderCache(options.cache);
  }

  /** Entries and hits of the rendered-script cache (zeros when it is off). */
  cacheStats(): { entries: number; chars: number; hits: number; misses: number } {
    return this.#cache?.stats() ?? { entries: 0, chars: 0, hits: 0, misses: 0 };
  }

  /** Decide purpose and template without rendering (for `render --explain` and logs). */
  explain(req: RenderRequest, snapshot = this.#o.snapshot()): { decision: PurposeDecision; candidates: string[]; resolution: Resolution } {
    const decision = decidePurpose(req.node, { snapshotLoaded: snapshot !== undefined });
    const candidates = templateCandidates(lookupKeyFor(decision.purpose, req.node));
    return { decision, candidates, resolution: this.#o.templates.resolve(req.kind, candidates) };
  }

  /** Render `req.kind` for the request; throws E_TEMPLATE_MISSING or E_RENDER naming the template. */
  render(req: RenderRequest): RenderResult {
    const snapshot = this.#o.snapshot();
    const mac = req.mac ?? req.node?.macs[0];
    // Signed once per expiry bucket by the signer, so this prefix (and the cache key) is stable within one.
    const answerPrefix = mac ? this.#o.answerPrefix(mac, req.clientIp) : undefined;
    const cache = isAnswerKind(req.kind) ? undefined : this.#cache;
    let key = '';
    if (cache) {
      cache.generation(snapshot, this.#o.templates.version);
      // Everything the view is built from besides the snapshot, the templates and the node object itself.
      key = `${req.kind}\n${mac ?? ''}\n${req.buildarch ?? ''}\n${req.server.address}\n${req.server.httpPort}\n${answerPrefix ?? ''}`;
      const hit = cache.get(key, req.node);
      if (hit) return hit;
    }
    const result = this.#render(req, snapshot, mac, answerPrefix);
    cache?.set(key, req.node, result, result.text.length);
    return result;
  }

  #render(req: RenderRequest, snapshot: Snapshot | undefined, mac: MacAddress | undefined, answerPrefix: string | undefined): RenderResult {
    const { decision, candidates, resolution } = this.explain(req, snapshot);
    const chosen = resolution.chosen;
    if (!chosen) {
      throw new EdgebootError(
        'E_TEMPLATE_MISSING',
        `no ${req.kind} template for purpose ${decision.purpose} (tried ${candidates.join(', ')})`,
      );
    }
    const view = buildView({
      kind: req.kind,
      decision,
      node: req.node,
      mac,
      buildarch: req.buildarch,
      server: req.server,
      config: snapshot?.config,
      selections: snapshot?.bootSelections ?? [],
      answerPrefix,
      revealToken: isAnswerKind(req.kind),
      retrySeconds: this.#o.retrySeconds ?? 10,
    });
    let text: string;
    try {
      text = this.#o.templates.run(chosen, view);
    } catch (cause) {
      // The message names the template and the problem, never the view (it may hold the token).
      throw new EdgebootError('E_RENDER', `template ${chosen.origin} failed: ${messageOf(cause).split('\n')[0]}`, {
        cause,
      });
    }
    return { text, decision, template: { name: chosen.name, origin: chosen.origin }, tried: resolution.tried };
  }
}
