import { existsSync } from 'node:fs';
import { loadConfig } from '../config/config.js';
import { EdgebootError } from '../core/errors.js';
import { printable } from '../core/mac.js';
import { RegionClient } from '../sync/region/index.js';

interface NodeRow {
  system_id: string;
  hostname: string;
  status: string;
  arch: string;
  macs: string[];
  status_reason?: string;
}

function adminClient(v: Record<string, unknown>, configPath: string): RegionClient {
  const region = existsSync(configPath) ? loadConfig(configPath).region : undefined;
  const url = (v.region as string | undefined) ?? region?.url;
  const tokenFile = (v['token-file'] as string | undefined) ?? region?.token_file;
  if (!url) throw new EdgebootError('E_CONFIG', 'nodes needs --region URL (or a region block in --config)');
  if (!tokenFile) throw new EdgebootError('E_CONFIG', 'nodes needs --token-file FILE holding the region admin token');
  return new RegionClient({ url, clusterId: '', tokenFile, caFile: (v['ca-file'] as string | undefined) ?? region?.ca_file });
}

function failure(status: number, body: unknown): EdgebootError {
  const said = typeof body === 'string' ? body.trim() : JSON.stringify(body);
  return new EdgebootError(status === 404 ? 'E_NOT_FOUND' : 'E_REGION', `region answered HTTP ${status}: ${printable(said, 300)}`);
}

/** `edgeboot nodes list|approve|set-status` against a region's admin API. */
export async function runNodes(v: Record<string, unknown>, configPath: string, args: string[]): Promise<number> {
  const [sub, ref, status] = args;
  const client = adminClient(v, configPath);
  try {
    if (sub === 'list' && args.length === 1) {
      const r = await client.admin('GET', 'nodes');
      if (r.status !== 200) throw failure(r.status, r.body);
      const nodes = (r.body as { nodes: NodeRow[] }).nodes;
      if (v.json) {
        process.stdout.write(`${JSON.stringify(nodes, null, 2)}\n`);
        return 0;
      }
      const rows = [['SYSTEM_ID', 'HOSTNAME', 'STATUS', 'ARCH', 'MACS'], ...nodes.map((n) => [n.system_id, n.hostname, n.status, n.arch, n.macs.join(',')])];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
      for (const row of rows) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
      return 0;
    }
    if (sub === 'approve' && ref && args.length === 2) {
      const r = await client.admin('POST', `nodes/${encodeURIComponent(ref)}/approve`);
      if (r.status !== 200) throw failure(r.status, r.body);
      const n = r.body as NodeRow;
      process.stdout.write(`approved ${n.system_id} (${n.hostname}): new -> ${n.status}\n`);
      return 0;
    }
    if (sub === 'set-status' && ref && status && args.length === 3) {
      const body: Record<string, string> = { status };
      if (typeof v.reason === 'string') body.reason = v.reason;
      const r = await client.admin('POST', `nodes/${encodeURIComponent(ref)}/status`, body);
      if (r.status !== 200) throw failure(r.status, r.body);
      const n = r.body as NodeRow;
      process.stdout.write(`${n.system_id} (${n.hostname}) is now ${n.status}\n`);
      return 0;
    }
  } finally {
    client.close();
  }
  process.stderr.write('usage: edgeboot nodes list | approve <mac|system_id> | set-status <mac|system_id> <status> [--reason TEXT]\n');
  return 2;
}
