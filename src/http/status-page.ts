import type { BootEvent, Stage } from '../observe/timeline.js';
import type { SummaryPage } from '../observe/node-summary.js';
import type { NodeSummary } from '../observe/node-summary.js';

/** HTML-escape text for element content and attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const COLOURS: Record<Stage, string> = {
  dhcp: '#6b7280',
  loader: '#2563eb',
  config: '#0891b2',
  script: '#7c3aed',
  kernel: '#059669',
  initrd: '#16a34a',
  squashfs: '#65a30d',
  answer: '#ca8a04',
  'answer-refused': '#dc2626',
  'region-event': '#9ca3af',
  file: '#94a3b8',
};

const STYLE = `body{font:14px system-ui,sans-serif;margin:1.5em;color:#111}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd}tr.stuck td{background:#fee2e2}
code{font-size:13px}.flag{color:#b91c1c}svg text{font:11px sans-serif}a{color:#1d4ed8}`;

function page(title: string, body: string, refresh: number): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${refresh}">
<title>${esc(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>\n`;
}

/** Links to the previous and next pages of the node list (none when it fits on one). */
function pager(s: SummaryPage): string {
  if (s.total <= s.limit) return '';
  const page = Math.floor(s.offset / s.limit) + 1;
  const pages = Math.max(1, Math.ceil(s.total / s.limit));
  const link = (p: number, text: string) => `<a href="/?page=${p}&amp;limit=${s.limit}">${text}</a>`;
  return `<p class="pager">${page > 1 ? link(page - 1, '← previous') + ' ' : ''}page ${page} of ${pages}${page < pages ? ' ' + link(page + 1, 'next →') : ''}</p>`;
}

/** The status page: one page of nodes with state and last stage, stuck nodes first. Works without JavaScript. */
export function renderStatusPage(summary: SummaryPage, snapshot: { version: string; ageSeconds?: number }, stages: ReadonlyMap<Stage, number> = new Map()): string {
  const rows = summary.nodes
    .map(
      (n) => `<tr class="${n.flags.length ? 'stuck' : ''}" data-mac="${esc(n.mac)}"><td><a href="/nodes/${esc(n.mac)}"><code>${esc(n.mac)}</code></a></td>
<td>${esc(n.hostname ?? '—')}</td><td>${esc(n.state)}</td><td>${esc(n.lastStage ?? '—')} <small>${esc(n.lastDetail ?? '')}</small></td>
<td>${esc(n.lastSeen ?? '—')}</td><td class="flag">${n.flags.map((f) => esc(f.message)).join('<br>')}</td></tr>`,
    )
    .join('\n');
  const body = `<h1>edgeboot</h1><p>${summary.total} machines, <strong>${summary.stuck} stuck</strong>; snapshot ${esc(snapshot.version || 'none')}${
    snapshot.ageSeconds === undefined ? '' : `, ${Math.round(snapshot.ageSeconds)} s old`
  }.</p>
<p id="stages">latest stage: ${[...stages].map(([stage, n]) => `${esc(stage)} ${n}`).join(', ') || 'none yet'}</p>
${pager(summary)}
<table id="nodes"><thead><tr><th>MAC</th><th>hostname</th><th>state</th><th>last stage</th><th>last seen</th><th>diagnosis</th></tr></thead><tbody>
${rows}
</tbody></table>
${pager(summary)}`;
  return page('edgeboot status', body, 10);
}

/**
 * A horizontal SVG timeline of a node's events: positions follow time, but marks are pushed apart to at
 * least MIN_GAP pixels so that events milliseconds apart (loader, config, script) stay readable.
 */
export function renderTimelineSvg(events: BootEvent[], minWidth = 960): string {
  if (events.length === 0) return '<p>No events recorded for this machine yet.</p>';
  const MIN_GAP = 64;
  const pad = 48;
  const width = Math.max(minWidth, pad * 2 + (events.length - 1) * MIN_GAP);
  const t0 = events[0]!.at;
  const span = Math.max(1, events.at(-1)!.at - t0);
  const xs: number[] = [];
  for (const e of events) {
    const byTime = pad + ((e.at - t0) / span) * (width - 2 * pad);
    xs.push(xs.length === 0 ? byTime : Math.max(byTime, xs.at(-1)! + MIN_GAP));
  }
  // Pushing marks apart can run past the right edge: squeeze everything back in proportionally.
  const over = xs.at(-1)! - (width - pad);
  if (over > 0) for (let i = 0; i < xs.length; i++) xs[i] = pad + ((xs[i]! - pad) * (width - 2 * pad)) / (xs.at(-1)! - pad || 1);
  const marks = events
    .map((e, i) => {
      const cx = xs[i]!.toFixed(1);
      const up = i % 2 === 0;
      const offset = ((e.at - t0) / 1000).toFixed(1);
      return `<g class="event" data-stage="${esc(e.stage)}"><line x1="${cx}" y1="60" x2="${cx}" y2="${up ? 44 : 76}" stroke="#999"/><circle cx="${cx}" cy="60" r="7" fill="${COLOURS[e.stage]}"${
        e.outcome === 'ok' ? '' : ' stroke="#b91c1c" stroke-width="3"'
      }><title>${esc(`+${offset} s ${e.stage} ${e.detail} ${e.outcome}`)}</title></circle><text x="${cx}" y="${up ? 38 : 90}" text-anchor="middle">${esc(e.stage)}</text><text x="${cx}" y="${
        up ? 26 : 102
      }" text-anchor="middle" fill="#666">+${offset}s</text></g>`;
    })
    .join('');
  return `<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="${width}" height="118" role="img" aria-label="boot timeline">
<line x1="${pad}" y1="60" x2="${width - pad}" y2="60" stroke="#333"/>${marks}
<text x="4" y="116">${esc(new Date(t0).toISOString())}</text></svg>`;
}

/** The per-node page: summary, SVG timeline and the event table. */
export function renderNodePage(n: NodeSummary, events: BootEvent[]): string {
  const rows = events
    .map(
      (e) => `<tr><td>${esc(new Date(e.at).toISOString())}</td><td>${esc(e.stage)}</td><td>${esc(e.via)}</td><td>${esc(e.detail)}</td>
<td>${e.bytes ?? ''}</td><td>${e.ms ?? ''}</td><td>${e.retransmits ?? ''}</td><td>${esc(e.outcome)}</td></tr>`,
    )
    .join('\n');
  const body = `<p><a href="/">← all machines</a></p><h1><code>${esc(n.mac)}</code> ${esc(n.hostname ?? '')}</h1>
<p>state <strong>${esc(n.state)}</strong>; last stage ${esc(n.lastStage ?? '—')}</p>
${n.flags.map((f) => `<p class="flag">${esc(f.message)}</p>`).join('')}
${renderTimelineSvg(events)}
<table id="events"><thead><tr><th>time</th><th>stage</th><th>via</th><th>detail</th><th>bytes</th><th>ms</th><th>retransmits</th><th>outcome</th></tr></thead><tbody>
${rows}</tbody></table>`;
  return page(`edgeboot ${n.mac}`, body, 10);
}
