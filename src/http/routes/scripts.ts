import { EdgebootError } from '../../core/errors.js';
import { parseMac } from '../../core/mac.js';
import { type SystemUuid, parseUuid } from '../../core/uuid.js';
import { CONTENT_TYPES } from '../../render/kinds.js';
import { type BootRouteDeps, renderScript } from './render-script.js';
import { type RouteAnswer, type RouteRequest, oneParam, sentence } from './types.js';

const ENTRY_HEADERS = Object.freeze({ 'Content-Type': CONTENT_TYPES.ipxe, 'Cache-Control': 'no-store' });

/** `/boot.ipxe`: the entry script that chains to the per-node route. */
export function bootIpxe(d: BootRouteDeps, req: RouteRequest): RouteAnswer {
  return { status: 200, headers: ENTRY_HEADERS, body: d.boot.entryScript(req.localAddress) };
}

/** `/ipxe/node/<mac>[?uuid=…]`: the node's rendered iPXE script (synchronous: no promise per boot request). */
export function ipxeNode(d: BootRouteDeps, req: RouteRequest, rawMac: string): RouteAnswer {
  const mac = parseMac(rawMac);
  const uuidRaw = oneParam(req.query, 'uuid');
  return renderScript(d, req, 'ipxe', mac, uuidRaw ? tryUuid(uuidRaw) : undefined);
}

/** `/ipxe_config?port_address=<mac>|node_uuid=<uuid>`: the Ironic-style spelling of the same script. */
export function ipxeConfig(d: BootRouteDeps, req: RouteRequest): RouteAnswer {
  const mac = oneParam(req.query, 'port_address');
  const uuid = oneParam(req.query, 'node_uuid');
  if (!mac && !uuid) return sentence(400, 'Give node_uuid=<uuid> or port_address=<mac>.');
  return renderScript(d, req, 'ipxe', mac ? parseMac(mac) : undefined, uuid ? parseUuid(uuid) : undefined);
}

function tryUuid(raw: string): SystemUuid | undefined {
  try {
    return parseUuid(raw);
  } catch (err) {
    // iPXE expands ${uuid} to nothing on machines without SMBIOS; that is not an error.
    if (err instanceof EdgebootError) return undefined;
    throw err;
  }
}
