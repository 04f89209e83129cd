import { MARKERS } from './guest-init.js';

/** What the guest's /init reported on the serial console. */
export interface GuestReport {
  /** The answer-file URL the guest fetched. */
  url?: string;
  /** The answer file's text, as printed between the markers. */
  answer?: string;
  /** The result line, e.g. `ok uptime=12.34` or `fail wget uptime=…`. */
  result?: string;
  ok: boolean;
  /** Guest uptime in seconds when /init finished. */
  guestUptime?: number;
  /** /proc/cmdline as the guest's kernel received it. */
  cmdline?: string;
  /** `url=… ds=…` as init found them in its environment (`(unset)` when the kernel passed no such parameter). */
  initEnv?: string;
  /** The consoles the kernel writes to (/proc/consoles), e.g. `['ttyS0']`. */
  consoles?: string[];
  /** The kernel's Secure Boot line, e.g. `Secure boot enabled`. */
  secureBoot?: string;
}

/** Strip terminal escapes (OVMF paints its screen with them), carriage returns and stray control bytes. */
export function cleanSerial(text: string): string {
  return text
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b[()][A-Za-z0-9]/g, '')
    .replace(/\r/g, '')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}

/** Pick the guest's report out of a serial log. */
export function parseGuestReport(serial: string): GuestReport {
  const lines = cleanSerial(serial).split('\n');
  const report: GuestReport = { ok: false };
  let inAnswer = false;
  const answer: string[] = [];
  for (const line of lines) {
    const t = line.trim();
    if (inAnswer) {
      if (t === MARKERS.end) {
        inAnswer = false;
        report.answer = answer.join('\n');
      } else answer.push(line);
      continue;
    }
    if (t === MARKERS.begin) inAnswer = true;
    else if (t.startsWith(`${MARKERS.url} `)) report.url = t.slice(MARKERS.url.length + 1).trim();
    else if (t.startsWith(`${MARKERS.result} `)) report.result = t.slice(MARKERS.result.length + 1).trim();
    else if (t.startsWith(`${MARKERS.cmdline} `)) report.cmdline = t.slice(MARKERS.cmdline.length + 1).trim();
    else if (t.startsWith(`${MARKERS.env} `)) report.initEnv = t.slice(MARKERS.env.length + 1).trim();
    else if (t.startsWith(`${MARKERS.consoles}`)) report.consoles = t.slice(MARKERS.consoles.length).trim().split(/\s+/).filter(Boolean);
    else if (t.startsWith(`${MARKERS.secureBoot} `)) report.secureBoot = t.slice(MARKERS.secureBoot.length + 1).trim();
  }
  report.ok = report.result?.startsWith('ok') === true && report.answer !== undefined;
  const up = /uptime=([\d.]+)/.exec(report.result ?? '');
  if (up) report.guestUptime = Number(up[1]);
  return report;
}

/** The last `maxLines` non-empty lines of a log, cleaned of escapes, for a failure message. */
export function excerpt(text: string, maxLines = 60): string {
  const lines = cleanSerial(text)
    .split('\n')
    .filter((l) => l.trim() !== '');
  const tail = lines.slice(-maxLines);
  const skipped = lines.length - tail.length;
  return (skipped > 0 ? `… (${skipped} earlier lines)\n` : '') + tail.join('\n');
}

/** A failure message with excerpts of each named log, so a red test says what the guest saw. */
export function describeLogs(title: string, logs: Record<string, string>, maxLines = 40): string {
  const parts = [title];
  for (const [name, text] of Object.entries(logs)) {
    parts.push(`---- ${name} (last ${maxLines} lines) ----`, excerpt(text, maxLines) || '(empty)');
  }
  return parts.join('\n');
}
