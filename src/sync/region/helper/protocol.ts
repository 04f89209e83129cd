import type { NodeIndexTables } from '../../../core/node-index.js';
import type { PlainNode, PlainSnapshot } from '../../../contract/index.js';
import type { RegionClientOptions } from '../region-client.js';
import type { RegionFailure } from '../region-error.js';

// The messages between the rack and its region helper process (region-worker.ts), over the fork IPC channel.

/** Static facts of the region helper process (its `init` message). */
export interface RegionWorkerInput {
  client: RegionClientOptions;
  chunkNodes: number;
  /** Nice value for the helper's threads, so its work yields the CPU to boot lookups. */
  nice: number;
}

/** What the rack asks of the helper. */
export type RegionWorkerRequest =
  | { type: 'init'; input: RegionWorkerInput }
  | { type: 'poll'; etag?: string; waitSeconds: number; where: string; base?: string; replica?: number }
  | { type: 'more' };

/** What the helper answers: a snapshot arrives as one head and then pieces. */
export type RegionWorkerReply =
  | { type: 'ready'; idle: boolean; niced: boolean }
  | { type: 'unchanged' }
  | { type: 'error'; failure: RegionFailure; message: string; status?: number }
  | {
      type: 'head';
      head: Omit<PlainSnapshot, 'nodes'>;
      total: number;
      /** Int32s in each lookup table; the tables follow in pieces. */
      sizes: Record<keyof NodeIndexTables, number>;
      /** The nodes' keys are those of the base load, in the same order: its tables serve as they are (none follow). */
      sameTables: boolean;
      generation: string;
      etag: string | undefined;
      bytes: number;
    }
  | {
      type: 'piece';
      /** Part of a lookup table, starting at Int32 `at`. */
      table?: { which: keyof NodeIndexTables; at: number; ints: Int32Array };
      /** The next nodes, in order: [start, count] stands for that many unchanged nodes of the base load from `start` on. */
      nodes?: Array<PlainNode | [number, number]>;
      last?: boolean;
    };
