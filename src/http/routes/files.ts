import { hasCode } from '../../core/errors.js';
import { resolveBootFile } from '../../files/boot-files.js';
import type { BootRouteDeps } from './render-script.js';
import { type RouteAnswer, type RouteRequest, sentence } from './types.js';

const VIRTUAL_HEADERS = Object.freeze({ 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });

/**
 * Any other path: a rendered virtual file (pxelinux.cfg/…, grub/…, boot.ipxe under a loader's prefix) or a
 * static boot file / loader to stream. A missing file is logged as "file not found" and put on the timeline.
 */
export async function bootFile(d: BootRouteDeps, req: RouteRequest): Promise<RouteAnswer> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sentence(405, 'edgeboot serves files read-only: use GET or HEAD.');
  let name: string;
  try {
    name = decodeURIComponent(req.path);
  } catch {
    return sentence(400, 'The request path is not valid percent-encoding.');
  }
  const ctx = { clientIp: req.clientIp, localAddress: req.localAddress, via: 'http' as const };
  try {
    const virtual = await d.boot.virtualFile(name, ctx);
    if (virtual) {
      return { status: 200, route: 'virtual', headers: VIRTUAL_HEADERS, body: virtual.text };
    }
    const file = await resolveBootFile(name, { root: d.bootRoot, loaderDirs: d.loaderDirs });
    return { status: 200, file, logFields: { file: file.from === 'loader' ? file.path : undefined, size: file.size } };
  } catch (err) {
    if (!hasCode(err, 'E_NOT_FOUND')) throw err;
    const { level, detail } = d.boot.noteMiss(ctx.clientIp, name, 'http');
    return { ...sentence(404, (err as Error).message), logMessage: 'file not found', logLevel: level, logFields: { proto: 'http', file: detail } };
  }
}
