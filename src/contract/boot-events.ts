import { printable } from '../core/mac.js';

/** Boot milestones reported to the region (docs/region-api.md, events endpoint). */
export type BootEventKind = 'loader-fetched' | 'script-served' | 'kernel-fetched' | 'initrd-fetched' | 'squashfs-fetched' | 'answer-fetched';

/** What an edge knows when a milestone happens. */
export interface BootEventInput {
  kind: BootEventKind;
  mac?: string;
  systemId?: string;
  /** A short printable note: the file name, the template, the answer kind. */
  detail?: string;
}

/** One event as the region receives it. */
export interface BootEvent {
  mac: string | null;
  system_id: string | null;
  kind: BootEventKind;
  detail: string;
  at: string;
}

/** Where edges send boot milestones; the HTTP/TFTP edges and the boot service call `emitBootEvent`. */
export interface BootEventSink {
  emitBootEvent(e: BootEventInput): void;
}

/** The sink used when no region is configured: milestones go nowhere. */
export const NO_BOOT_EVENTS: BootEventSink = Object.freeze({ emitBootEvent: () => undefined });

/** Turn an edge's input into the wire event, stamped now. */
export function toBootEvent(e: BootEventInput, now = Date.now()): BootEvent {
  return {
    mac: e.mac ?? null,
    system_id: e.systemId ?? null,
    kind: e.kind,
    detail: e.detail ? printable(e.detail, 200) : '',
    at: new Date(now).toISOString(),
  };
}

/** A bounded FIFO: when full, the oldest entry is dropped and counted. */
export class BoundedQueue<T> {
  #items: T[] = [];
  #head = 0;
  /** Entries dropped because the queue was full. */
  dropped = 0;

  constructor(readonly max: number) {}

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Add at the tail, dropping from the head when over `max`. */
  push(item: T): void {
    this.#items.push(item);
    this.#trim();
  }

  /** Remove and return up to `n` entries from the head. */
  take(n: number): T[] {
    const out = this.#items.slice(this.#head, this.#head + n);
    this.#head += out.length;
    this.#compact();
    return out;
  }

  /** Put entries that could not be delivered back at the head (still bounded: the oldest go first). */
  putBack(items: T[]): void {
    this.#items = [...items, ...this.#items.slice(this.#head)];
    this.#head = 0;
    this.#trim();
  }

  #trim(): void {
    const over = this.size - this.max;
    if (over > 0) {
      this.#head += over;
      this.dropped += over;
      this.#compact();
    }
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

const LOADER = /(^|\/)(undionly\.kpxe|ipxe\.(efi|pxe|lkrn)|snponly\.efi|[a-z0-9_-]*\.kpxe|l?pxelinux\.0|shim[a-z0-9]*\.efi|grub[a-z0-9]*\.efi|boot[a-z0-9]*\.efi)$/i;

/** The milestone a served file stands for (for the HTTP/TFTP edges), or undefined for files that are none. */
export function bootEventForFile(path: string): BootEventKind | undefined {
  const m = /(^|\/)images\/(?:[^/]+\/){5}(kernel|initrd|squashfs)$/.exec(path);
  if (m) return `${m[2] as 'kernel' | 'initrd' | 'squashfs'}-fetched`;
  return LOADER.test(path) ? 'loader-fetched' : undefined;
}
