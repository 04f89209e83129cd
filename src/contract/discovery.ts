import { z } from 'zod';
import { tryParseMac } from '../core/mac.js';

/** The body of `POST …/discoveries` as the region checks it (docs/region-api.md). */
export const discoveryBodySchema = z.object({
  mac: z.string().refine((v) => tryParseMac(v) !== undefined, { message: 'is not a MAC address' }),
  uuid: z.string().max(64).nullable().optional(),
  arch: z.string().max(32).nullable().optional(),
  ip: z.string().max(64).nullable().optional(),
  seen_at: z.string().max(64).nullable().optional(),
});

/** One discovery as a rack sends it. */
export type WireDiscovery = z.input<typeof discoveryBodySchema>;
