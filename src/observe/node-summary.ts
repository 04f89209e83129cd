import type { MacAddress } from '../core/mac.js';
import type { Node } from '../core/node.js';
import { loaderChain } from './loader-chain.js';
import type { BootEvent, BootTimeline, StuckFlag } from './timeline.js';

/** One row of the node list: safe to expose on the LAN (no tokens, no URLs). */
export interface NodeSummary {
  mac: MacAddress;
  hostname: string | null;
  systemId: string | null;
  state: string;
  lastStage: string | null;
  lastDetail: string | null;
  lastSeen: string | null;
  /** The loader chain of the latest boot (`snponly → ipxe script → kernel`), from the timeline. */
  chain: string[];
  flags: StuckFlag[];
}

/** What a page of the node list reads from the node store. */
export interface SummarySource {
  nodes: readonly Node[];
  byMac(mac: MacAddress): Node | undefined;
}

/** One page of the node list, with the totals of the whole list. */
export interface SummaryPage {
  total: number;
  stuck: number;
  offset: number;
  limit: number;
  nodes: NodeSummary[];
}

/**
 * One page of the node list: every MAC seen on the wire plus every known node, stuck machines first
 * (most recently seen first), then the rest most recently seen first (to the second), then known nodes
 * never seen. The stuck set comes from the timeline's incremental index, so a page costs its rows plus
 * one pass over the MAC keys, never a diagnosis of every MAC.
 */
export function summarise(source: SummarySource, timeline: BootTimeline, now = Date.now(), limit = 1000, offset = 0): SummaryPage {
  const stuck = timeline.stuckMacs(now);
  const stuckRows = [...stuck.keys()].sort((a, b) => (timeline.lastAt(b) ?? 0) - (timeline.lastAt(a) ?? 0) || a.localeCompare(b));
  const page: MacAddress[] = [];
  const end = offset + limit;
  let at = 0;
  const take = (mac: MacAddress) => {
    if (at >= offset && at < end) page.push(mac);
    at++;
  };
  for (const mac of stuckRows) take(mac);
  // Only as many of the newest MACs as the page can reach (stuck ones are skipped here, listed above).
  for (const mac of timeline.newestMacs(end + stuck.size)) if (!stuck.has(mac)) take(mac);
  // Known nodes never seen on the wire: only their count is needed unless the page reaches them.
  let unseen = 0;
  for (const n of source.nodes) {
    const mac = n.macs[0];
    if (!mac || timeline.has(mac)) continue;
    unseen++;
    if (at < end) take(mac);
  }
  const rows = page.map((mac) => summariseRow(mac, source.byMac(mac), timeline, stuck.has(mac) ? timeline.stuck(mac, now) : undefined));
  return { total: timeline.size + unseen, stuck: stuck.size, offset, limit, nodes: rows };
}

/** The summary of one MAC (and its node, when known). */
export function summariseMac(mac: MacAddress, node: Node | undefined, timeline: BootTimeline, now = Date.now()): NodeSummary {
  return summariseRow(mac, node, timeline, timeline.stuck(mac, now));
}

function summariseRow(mac: MacAddress, node: Node | undefined, timeline: BootTimeline, flag: StuckFlag | undefined): NodeSummary {
  const events = timeline.events(mac);
  const last = events.at(-1);
  return {
    mac,
    hostname: node?.hostname ?? null,
    systemId: node?.systemId ?? null,
    state: node?.status ?? 'unknown',
    lastStage: last?.stage ?? null,
    lastDetail: last?.detail ?? null,
    lastSeen: last ? new Date(last.at).toISOString() : null,
    chain: loaderChain(events),
    flags: flag ? [flag] : [],
  };
}

/** A timeline event as JSON: ISO time, no secrets (events never carry any). */
export function eventJson(e: BootEvent): Record<string, unknown> {
  return { ...e, at: new Date(e.at).toISOString() };
}
