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

/** Summaries of every known node plus every MAC seen on the wire; stuck first, then most recently seen. */
export function summarise(
  nodes: readonly Node[],
  timeline: BootTimeline,
  now = Date.now(),
  limit = 1000,
): { total: number; stuck: number; nodes: NodeSummary[] } {
  const byMac = new Map<MacAddress, Node>();
  for (const n of nodes) for (const m of n.macs) byMac.set(m, n);
  const macs = new Set<MacAddress>(timeline.macs());
  for (const n of nodes) if (n.macs[0]) macs.add(n.macs[0]);
  const rows: NodeSummary[] = [];
  for (const mac of macs) rows.push(summariseMac(mac, byMac.get(mac), timeline, now));
  rows.sort((a, b) => b.flags.length - a.flags.length || (b.lastSeen ?? '').localeCompare(a.lastSeen ?? '') || a.mac.localeCompare(b.mac));
  return { total: rows.length, stuck: rows.filter((r) => r.flags.length).length, nodes: rows.slice(0, limit) };
}

/** The summary of one MAC (and its node, when known). */
export function summariseMac(mac: MacAddress, node: Node | undefined, timeline: BootTimeline, now = Date.now()): NodeSummary {
  const events = timeline.events(mac);
  const last = events.at(-1);
  const flag = timeline.stuck(mac, now);
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
