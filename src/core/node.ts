import type { MacAddress } from './mac.js';
import type { Secret } from './secret.js';
import type { SystemUuid } from './uuid.js';

/** Node lifecycle states known to edgeboot; anything else is kept verbatim and boots the error script. */
export const KNOWN_STATES = [
  'new',
  'commissioning',
  'testing',
  'deploying',
  'deployed',
  'allocated',
  'ready',
  'rescue',
  'failed',
  'failed_deployment',
  'broken',
] as const;

/** The OAuth-style credentials a node's installer uses to call back to the region. */
export interface NodeToken {
  consumerKey: Secret;
  tokenKey: Secret;
  tokenSecret: Secret;
}

/** One machine, as the region (or the inventory) describes it. */
export interface Node {
  systemId: string;
  hostname: string;
  macs: MacAddress[];
  uuid?: SystemUuid;
  arch: string;
  subarch: string;
  status: string;
  statusReason?: string;
  osystem: string;
  release: string;
  kernelOpts: string;
  token?: NodeToken;
  /** The one cluster (rack) the region serves this node to; absent = every cluster. */
  cluster?: string;
}

/** Cluster-wide settings from the region. */
export interface ClusterConfig {
  mainArchive: string;
  portsArchive: string;
  debianArchive: string;
  httpProxy: string;
  commissioningOsystem: string;
  commissioningRelease: string;
  metadataUrl: string;
  /** Kernel options every boot gets (MAAS's global `kernel_opts`), placed before a node's own. */
  kernelOpts: string;
}

/** An image file the cluster must carry. */
export interface BootFile {
  name: 'kernel' | 'initrd' | 'squashfs';
  path: string;
  size?: number;
  sha256?: string;
}

/** One boot-image selection from the region. */
export interface BootSelection {
  os: string;
  release: string;
  arches: string[];
  subarches: string[];
  labels: string[];
  files: BootFile[];
}

/** A whole, validated picture of the cluster: what the NodeStore swaps in atomically. */
export interface Snapshot {
  version: string;
  nodes: Node[];
  config: ClusterConfig;
  bootSelections: BootSelection[];
}

/** The cluster defaults used when the region/inventory leaves a key out. */
export const DEFAULT_CLUSTER_CONFIG: ClusterConfig = Object.freeze({
  mainArchive: 'http://archive.ubuntu.com/ubuntu',
  debianArchive: 'http://deb.debian.org/debian',
  portsArchive: 'http://ports.ubuntu.com/ubuntu-ports',
  httpProxy: '',
  commissioningOsystem: 'ubuntu',
  commissioningRelease: 'noble',
  metadataUrl: '',
  kernelOpts: '',
});
