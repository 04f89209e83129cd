import type { BootSelection, ClusterConfig, Node, Snapshot } from '../core/node.js';
import type { WireNode, WireSelection, WireSnapshot } from './snapshot-schema.js';

// The inverse of snapshot-schema.ts: normalised values back in the region API's JSON, typed by the same schemas.


/** A normalised node back in its wire form. */
export function nodeToWire(n: Node): WireNode {
  const w: WireNode = {
    system_id: n.systemId,
    hostname: n.hostname,
    macs: [...n.macs],
    arch: `${n.arch}/${n.subarch}`,
    status: n.status,
    osystem: n.osystem,
    kernel_opts: n.kernelOpts,
  };
  if (n.release) w.release = n.release;
  if (n.uuid) w.uuid = n.uuid;
  if (n.statusReason) w.status_reason = n.statusReason;
  if (n.cluster) w.cluster = n.cluster;
  if (n.token) {
    w.token = { consumer_key: n.token.consumerKey.reveal(), token_key: n.token.tokenKey.reveal(), token_secret: n.token.tokenSecret.reveal() };
  }
  return w;
}

function configToWire(c: ClusterConfig): WireSnapshot['config'] {
  return {
    main_archive: c.mainArchive,
    ports_archive: c.portsArchive,
    debian_archive: c.debianArchive,
    http_proxy: c.httpProxy,
    commissioning_osystem: c.commissioningOsystem,
    commissioning_release: c.commissioningRelease,
    metadata_url: c.metadataUrl,
    kernel_opts: c.kernelOpts,
  };
}

/** Selections in the per-combination wire shape (one entry per os/release/arch/subarch/label). */
export function selectionsToWire(list: BootSelection[]): WireSelection[] {
  return list.flatMap((s) =>
    s.arches.flatMap((arch) =>
      s.subarches.flatMap((subarch) =>
        s.labels.map((label) => ({
          os: s.os,
          release: s.release,
          arch,
          subarch,
          label,
          files: s.files.map((f) => ({ name: f.name, path: f.path, size: f.size ?? 0, sha256: f.sha256 ?? '' })),
        })),
      ),
    ),
  );
}

/** A whole normalised snapshot in the region API's JSON shape; parseSnapshot of it gives the same snapshot back. */
export function snapshotToWire(s: Snapshot, version = s.version): WireSnapshot {
  return { version, nodes: s.nodes.map(nodeToWire), config: configToWire(s.config), boot_selections: selectionsToWire(s.bootSelections) };
}
