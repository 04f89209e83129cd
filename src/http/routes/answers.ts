import { REFUSAL_MESSAGES } from '../../core/capability.js';
import { parseMac } from '../../core/mac.js';
import type { Kind } from '../../render/kinds.js';
import { type BootRouteDeps, renderScript } from './render-script.js';
import { type RouteAnswer, type RouteRequest, sentence } from './types.js';

const ANSWER_FILES: Record<string, Kind> = { preseed: 'preseed', 'user-data': 'user-data', 'meta-data': 'meta-data' };

/** `/answers/<mac>/<capability>/<file>`: an answer file, only for a request the capability check accepts. */
export async function answerFile(d: BootRouteDeps, req: RouteRequest, rawMac: string, cap: string, file: string): Promise<RouteAnswer> {
  if (file === 'vendor-data') return { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }, body: '' };
  const kind = ANSWER_FILES[file];
  if (!kind) return sentence(404, 'Answer files are preseed, user-data, meta-data and vendor-data.');
  const mac = parseMac(rawMac);
  // The check itself lives in the core (capability.ts, reached through the boot service): never inlined here.
  const refusal = await d.boot.verifyAnswer(mac, cap, req.clientIp);
  if (refusal) {
    d.metrics.answersRefused.inc({ reason: refusal });
    return { ...sentence(403, REFUSAL_MESSAGES[refusal]), logFields: { mac, refused: refusal } };
  }
  return renderScript(d, req, kind, mac);
}
