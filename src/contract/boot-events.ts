import { randomUUID } from 'node:crypto';
import { z } from 'zod';
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

/** One boot milestone as the region receives it (the wire form; the timeline's own record is observe's BootEvent). */
export interface RegionBootEvent {
  /** Made once by the rack, so a batch re-sent (to this or another region replica) is stored once; old racks send none. */
  id?: string;
  mac: string | null;
  system_id: string | null;
  kind: BootEventKind;
  detail: string;
  at: string;
}

/** Turn an edge's input into the wire event, stamped now. */
export function toBootEvent(e: BootEventInput, now = Date.now()): RegionBootEvent {
  return {
    id: randomUUID(),
    mac: e.mac ?? null,
    system_id: e.systemId ?? null,
    kind: e.kind,
    detail: e.detail ? printable(e.detail, 200) : '',
    at: new Date(now).toISOString(),
  };
}

/** A short field of printable ASCII on one line, as the region accepts in event and status bodies. */
export const printableLine = z.string().regex(/^[\x20-\x7e]*$/).max(256);

/** The body of `POST …/events` as the region checks it: at most 10,000 events of printable fields, each with an optional idempotency id. */
export const bootEventsBodySchema = z.object({
  events: z
    .array(z.object({ id: z.string().regex(/^[A-Za-z0-9-]{1,64}$/).optional(), mac: printableLine.nullable(), system_id: printableLine.nullable(), kind: printableLine, detail: printableLine, at: printableLine }))
    .max(10_000),
});
