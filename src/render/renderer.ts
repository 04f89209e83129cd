import { EdgebootError, messageOf } from '../core/errors.js';
import type { MacAddress } from '../core/mac.js';
import type { Node, Snapshot } from '../core/node.js';
import type { Kind } from './kinds.js';
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
}

/** Pure rendering: node + request + server address → text, via the MAAS-order template lookup. */
export class Renderer {
  readonly #o: RendererOptions;

  constructor(options: RendererOptions) {
    this.#o = options;
  }

  /** Decide purpose and template without rendering (for `render --explain` and logs). */
  explain(req: RenderRequest): { decision: PurposeDecision; candidates: string[]; resolution: Resolution } {
    const snapshot = this.#o.snapshot();
    const decision = decidePurpose(req.node, { snapshotLoaded: snapshot !== undefined });
    const candidates = templateCandidates(lookupKeyFor(decision.purpose, req.node));
    return { decision, candidates, resolution: this.#o.templates.resolve(req.kind, candidates) };
  }

  /** Render `req.kind` for the request; throws E_TEMPLATE_MISSING or E_RENDER naming the template. */
  render(req: RenderRequest): RenderResult {
    const { decision, candidates, resolution } = this.explain(req);
    const chosen = resolution.chosen;
    if (!chosen) {
      throw new EdgebootError(
        'E_TEMPLATE_MISSING',
        `no ${req.kind} template for purpose ${decision.purpose} (tried ${candidates.join(', ')})`,
      );
    }
    const snapshot = this.#o.snapshot();
    const mac = req.mac ?? req.node?.macs[0];
    const view = buildView({
      kind: req.kind,
      decision,
      node: req.node,
      mac,
      buildarch: req.buildarch,
      server: req.server,
      config: snapshot?.config,
      selections: snapshot?.bootSelections ?? [],
      answerPrefix: mac ? this.#o.answerPrefix(mac, req.clientIp) : undefined,
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
