import type { MacAddress } from '../core/mac.js';
import type { Node } from '../core/node.js';
import type { Kind } from '../render/kinds.js';
import type { Renderer } from '../render/renderer.js';
import type { BootTimeline } from './timeline.js';
import { eventJson, summariseMac } from './node-summary.js';

/** The loader one DHCP client architecture would be handed. */
export interface LoaderChoice {
  rule: string;
  arches: number[] | 'iPXE';
  filename: string;
}

/** The file a loader name resolves to on this appliance. */
export interface LoaderFile {
  name: string;
  path: string | null;
  note: string;
}

/** Everything `edgeboot explain <mac>` prints; no token, no signed URL. */
export interface Explanation {
  mac: MacAddress;
  node: { hostname: string; systemId: string; state: string; osystem: string; release: string; arch: string } | null;
  purpose: string;
  reason: string;
  kinds: Array<{ kind: Kind; candidates: string[]; chosen: string | null }>;
  loaders: LoaderChoice[];
  /** Which file each loader name in `loaders` (and shim's follow-ups) resolves to; absent from older appliances. */
  loaderFiles?: LoaderFile[];
  flags: ReturnType<typeof summariseMac>['flags'];
  /** The loader chain the latest boot took, e.g. `shim → grub → grub config → kernel`. */
  chain: string[];
  timeline: Array<Record<string, unknown>>;
}

/** Explain what `mac` would be served and why, from the node, the renderer's lookup and the DHCP plan. */
export function explainMac(
  mac: MacAddress,
  node: Node | undefined,
  renderer: Renderer,
  timeline: BootTimeline,
  loaders: LoaderChoice[],
  loaderFiles: LoaderFile[] = [],
): Explanation {
  const kinds: Kind[] = ['ipxe', 'pxelinux', 'grub', 'preseed', 'user-data', 'meta-data'];
  let purpose = '';
  let reason = '';
  const perKind = kinds.map((kind) => {
    const ex = renderer.explain({ kind, node, mac, server: { address: '0.0.0.0', httpPort: 0 }, clientIp: '' });
    purpose = ex.decision.purpose;
    reason = ex.decision.reason;
    return { kind, candidates: ex.candidates, chosen: ex.resolution.chosen?.origin ?? null };
  });
  const summary = summariseMac(mac, node, timeline);
  return {
    mac,
    node: node
      ? { hostname: node.hostname, systemId: node.systemId, state: node.status, osystem: node.osystem, release: node.release, arch: `${node.arch}/${node.subarch}` }
      : null,
    purpose,
    reason,
    kinds: perKind,
    loaders,
    loaderFiles,
    flags: summary.flags,
    chain: summary.chain,
    timeline: timeline.events(mac).map(eventJson),
  };
}

/** Explanation as the lines `edgeboot explain` prints. */
export function formatExplanation(x: Explanation): string {
  const lines = [
    `mac:      ${x.mac}`,
    `node:     ${x.node ? `${x.node.hostname} (${x.node.systemId}), state ${x.node.state}, ${x.node.osystem} ${x.node.release} ${x.node.arch}` : 'unknown to this appliance'}`,
    `purpose:  ${x.purpose}`,
    `why:      ${x.reason}`,
    '',
    'templates (candidates in lookup order; * = chosen):',
  ];
  for (const k of x.kinds) {
    const chosenName = k.chosen?.split('/').pop()?.replace(/\.eta$/, '');
    lines.push(`  ${k.kind}: ${k.candidates.map((c) => (c === chosenName ? `*${c}` : c)).join(' → ')}`);
    lines.push(`  ${' '.repeat(k.kind.length)}  chosen: ${k.chosen ?? 'none (render would fail)'}`);
  }
  lines.push('', 'loader per DHCP client architecture (option 93):');
  for (const l of x.loaders) lines.push(`  ${l.rule.padEnd(10)} ${Array.isArray(l.arches) ? `arch ${l.arches.join(',')}` : 'user class iPXE'} → ${l.filename}`);
  if (x.loaderFiles?.length) {
    lines.push('', 'loader files (what each name is answered with):');
    for (const f of x.loaderFiles) lines.push(`  ${f.name.padEnd(14)} → ${f.path ?? 'not installed'}${f.note ? `  (${f.note})` : ''}`);
  }
  // Appliances older than the chain field send none.
  lines.push('', `loader chain of the latest boot: ${x.chain?.length ? x.chain.join(' → ') : '(none seen yet)'}`);
  lines.push('', x.flags.length ? `diagnosis: ${x.flags.map((f) => f.message).join('; ')}` : 'diagnosis: nothing stuck', '', 'timeline:');
  if (x.timeline.length === 0) lines.push('  (no events recorded)');
  for (const e of x.timeline) {
    const extra = [e.bytes !== undefined ? `${e.bytes} B` : '', e.ms !== undefined ? `${e.ms} ms` : '', e.retransmits ? `${e.retransmits} retransmits` : '']
      .filter(Boolean)
      .join(', ');
    lines.push(`  ${e.at}  ${String(e.stage).padEnd(14)} ${String(e.via).padEnd(6)} ${e.detail}${extra ? ` (${extra})` : ''} ${e.outcome === 'ok' ? '' : `[${e.outcome}]`}`.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}
