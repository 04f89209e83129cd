import { Eta } from 'eta';
import { EdgebootError, messageOf } from '../core/errors.js';
import { KINDS, type Kind } from './kinds.js';
import { makeFilter } from './safe-value.js';

type TemplateFn = ReturnType<Eta['compile']>;

/** A compiled template and where its text came from. */
export interface CompiledTemplate {
  kind: Kind;
  name: string;
  layer: number;
  origin: string;
  fn: TemplateFn;
}

/** The outcome of looking a template up: which names were tried and which one won. */
export interface Resolution {
  tried: Array<{ name: string; layer: string }>;
  chosen?: CompiledTemplate;
}

const TEMPLATE_NAME = /^[a-z0-9][a-z0-9_.+-]*$/;

/**
 * Compiled templates in memory, in layers (override dirs first, shipped last).
 * Text arrives through `put` (the loader is injected by an edge); a template that fails
 * to compile never replaces the last good one.
 */
export class TemplateStore {
  readonly #layers: string[];
  readonly #compiled: Array<Map<string, CompiledTemplate>>;
  readonly #errors = new Map<string, string>();
  readonly #eta: Record<Kind, Eta>;
  #version = 0;

  constructor(layers: string[]) {
    this.#layers = [...layers];
    this.#compiled = layers.map(() => new Map());
    this.#eta = Object.fromEntries(
      KINDS.map((k) => [
        k,
        new Eta({ autoEscape: false, autoTrim: false, autoFilter: true, filterFunction: makeFilter(k), useWith: false }),
      ]),
    ) as Record<Kind, Eta>;
  }

  /** Layer labels (directories), highest priority first. */
  get layers(): readonly string[] {
    return this.#layers;
  }

  /** Compile and store one template; returns the compile error (and keeps the old one) on failure. */
  put(layer: number, kind: Kind, name: string, text: string, origin: string): EdgebootError | undefined {
    const key = `${kind}/${name}`;
    const errKey = `${layer}:${key}`;
    if (!TEMPLATE_NAME.test(name)) {
      const err = new EdgebootError('E_TEMPLATE_COMPILE', `template ${origin} has an invalid name`);
      this.#errors.set(errKey, err.message);
      return err;
    }
    let fn: TemplateFn;
    try {
      fn = this.#eta[kind].compile(text);
    } catch (cause) {
      const err = new EdgebootError(
        'E_TEMPLATE_COMPILE',
        `template ${origin} does not compile: ${messageOf(cause).split('\n')[0]}`,
        { cause },
      );
      this.#errors.set(errKey, err.message);
      return err;
    }
    this.#compiled[layer]!.set(key, { kind, name, layer, origin, fn });
    this.#errors.delete(errKey);
    this.#version++;
    return undefined;
  }

  /** Forget a template whose file was removed. */
  remove(layer: number, kind: Kind, name: string): void {
    if (this.#compiled[layer]?.delete(`${kind}/${name}`)) this.#version++;
    this.#errors.delete(`${layer}:${kind}/${name}`);
  }

  /** Current compile errors (templates serving their last good version, or absent). */
  errors(): string[] {
    return [...this.#errors.values()];
  }

  /** Changes with every template stored or removed: what rendered text cached from these templates depends on. */
  get version(): number {
    return this.#version;
  }

  /** Number of compiled templates across all layers. */
  get size(): number {
    return this.#compiled.reduce((n, m) => n + m.size, 0);
  }

  /**
   * First candidate found, searching the whole candidate list in each layer before the next layer:
   * an operator's override (even a general one) always beats a shipped template.
   */
  resolve(kind: Kind, candidates: string[]): Resolution {
    const tried: Resolution['tried'] = [];
    for (let layer = 0; layer < this.#compiled.length; layer++) {
      for (const name of candidates) {
        tried.push({ name, layer: this.#layers[layer]! });
        const hit = this.#compiled[layer]!.get(`${kind}/${name}`);
        if (hit) return { tried, chosen: hit };
      }
    }
    return { tried };
  }

  /** Run a compiled template on a view model. */
  run(template: CompiledTemplate, view: object): string {
    return template.fn.call(this.#eta[template.kind], view);
  }
}
