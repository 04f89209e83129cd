import { httpBase as urlBase, urlHost } from '../core/ip.js';
import type { MacAddress } from '../core/mac.js';
import { pxelinuxMacName } from '../core/mac.js';
import type { BootSelection, ClusterConfig, Node } from '../core/node.js';
import { DEFAULT_CLUSTER_CONFIG } from '../core/node.js';
import { type Callback, callbackFor } from './callback.js';
import { joinKernelParams, splitKernelParams } from './kernel-params.js';
import type { Kind, Purpose } from './kinds.js';
import type { PurposeDecision } from './purpose.js';

/** Where the client reaches this appliance: the address the request arrived on (or the configured one). */
export interface ServerEndpoint {
  address: string;
  httpPort: number;
}

/** Everything a template may use; built by `buildView`, never by a template. */
export interface BootView {
  kind: Kind;
  purpose: Purpose;
  reason: string;
  mac: string;
  pxelinuxMac: string;
  hostname: string;
  systemId: string;
  status: string;
  osystem: string;
  release: string;
  arch: string;
  subarch: string;
  label: string;
  kernelOpts: string;
  /** The kernel command line as text (iPXE, PXELINUX), joined from `params`. */
  cmdline: string;
  /** The kernel parameters, one per word as the kernel sees them (GRUB passes each as its own argument). */
  params: string[];
  retrySeconds: number;
  server: { address: string; httpPort: number; httpBase: string; grubHttp: string; grubTftp: string };
  urls: { kernel: string; initrd: string; squashfs: string; preseed: string; seed: string; script: string };
  paths: { kernel: string; initrd: string; squashfs: string };
  config: ClusterConfig;
  /** The region callback of an answer file (absolute URLs), or which setting is missing and why. */
  callback: Callback;
  /** The node's credentials: present only when rendering that node's own answer file. */
  token?: { consumerKey: string; tokenKey: string; tokenSecret: string };
  /** JSON-encode a value onto one line (safe inside YAML and shell). */
  json: (v: unknown) => string;
  /** Region text made safe to print in any format: only letters, digits, space and . , : ; ( ) / _ = + @ - survive. */
  say: (v: unknown) => string;
}

/** Reduce free text (a status reason) to characters that are inert in iPXE, PXELINUX, GRUB and YAML. */
export function sayable(v: unknown): string {
  return String(v ?? '')
    .replace(/[^A-Za-z0-9 .,:;()/_=+@-]/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim()
    .slice(0, 300);
}

/** Inputs to the view: the node (if known), the request facts, and how to sign answer URLs. */
export interface ViewInput {
  kind: Kind;
  decision: PurposeDecision;
  node?: Node;
  mac?: MacAddress;
  buildarch?: string;
  server: ServerEndpoint;
  config?: ClusterConfig;
  selections: BootSelection[];
  /** Path prefix of the capability URL for this MAC's answer files, e.g. `/answers/<mac>/<cap>`. */
  answerPrefix?: string;
  revealToken: boolean;
  retrySeconds: number;
}

const ANSWER_KINDS: ReadonlySet<Kind> = new Set(['preseed', 'user-data', 'meta-data']);

/** True for kinds that are installer answer files (they may carry the node's token). */
export function isAnswerKind(kind: Kind): boolean {
  return ANSWER_KINDS.has(kind);
}

/** Map iPXE's `${buildarch}` (or a DHCP-derived name) to a Debian architecture. */
export function archFromBuildarch(buildarch: string | undefined): string {
  switch ((buildarch ?? '').toLowerCase()) {
    case 'arm64':
    case 'aarch64':
      return 'arm64';
    case 'arm32':
    case 'armhf':
      return 'armhf';
    default:
      return 'amd64';
  }
}

function pickLabel(selections: BootSelection[], os: string, release: string, arch: string, subarch: string): string {
  const sel = selections.find(
    (s) => s.os === os && s.release === release && s.arches.includes(arch) && s.subarches.includes(subarch),
  );
  return sel?.labels[0] ?? 'stable';
}

/** Which image an ephemeral or install boot uses: the node's OS for installs, the commissioning OS otherwise. */
function imageFor(purpose: Purpose, node: Node | undefined, config: ClusterConfig): { os: string; release: string } {
  if (purpose === 'install' && node) return { os: node.osystem, release: node.release || config.commissioningRelease };
  return { os: config.commissioningOsystem, release: config.commissioningRelease };
}

/** Compose the kernel command line for a purpose (MAAS composes it in code, not in each template). */
function composeCmdline(purpose: Purpose, os: string, mac: string, hostname: string, urls: BootView['urls'], extra: string): string {
  const parts: string[] = [];
  if (mac) parts.push(`BOOTIF=${pxelinuxMacName(mac as MacAddress)}`);
  switch (purpose) {
    case 'install':
      if (os === 'debian') {
        parts.push('auto=true', 'priority=critical', `url=${urls.preseed}`, `hostname=${hostname}`, 'domain=', 'interface=auto');
      } else {
        parts.push('ip=dhcp', 'autoinstall', `ds=nocloud-net;s=${urls.seed}`);
      }
      break;
    case 'enlist':
    case 'commission':
    case 'rescue':
      parts.push('ip=dhcp', `ds=nocloud-net;s=${urls.seed}`, `edgeboot.purpose=${purpose}`);
      if (urls.squashfs) parts.push(`root=squash:${urls.squashfs}`);
      break;
    default:
      break;
  }
  if (extra) parts.push(extra);
  return parts.join(' ');
}

/** Build the typed view model a template renders. Pure: every fact arrives in `input`. */
export function buildView(input: ViewInput): BootView {
  const { node, decision, server } = input;
  const config = input.config ?? DEFAULT_CLUSTER_CONFIG;
  const mac = input.mac ?? node?.macs[0] ?? '';
  const arch = node?.arch ?? archFromBuildarch(input.buildarch);
  const subarch = node?.subarch ?? 'generic';
  const image = imageFor(decision.purpose, node, config);
  const label = pickLabel(input.selections, image.os, image.release, arch, subarch);
  const httpBase = urlBase(server.address, server.httpPort);
  const imageDir = `images/${image.os}/${arch}/${subarch}/${image.release}/${label}`;
  const hostname = node?.hostname ?? (mac ? `unknown-${mac.replace(/:/g, '')}` : 'unknown');
  const seed = input.answerPrefix ? `${httpBase}${input.answerPrefix}/` : '';
  const urls = {
    kernel: `${httpBase}/${imageDir}/kernel`,
    initrd: `${httpBase}/${imageDir}/initrd`,
    squashfs: decision.purpose === 'install' ? '' : `${httpBase}/${imageDir}/squashfs`,
    preseed: seed ? `${seed}preseed` : '',
    seed,
    script: mac ? `${httpBase}/ipxe/node/${mac.replace(/:/g, '-')}` : `${httpBase}/boot.ipxe`,
  };
  // One list of words feeds every format, so GRUB and iPXE/PXELINUX hand the kernel the same parameters.
  // Cluster-wide options first, then the node's own: a later parameter wins where the kernel keeps the last.
  const extra = [config.kernelOpts, node?.kernelOpts ?? ''].filter(Boolean).join(' ');
  const params = splitKernelParams(composeCmdline(decision.purpose, image.os, mac, hostname, urls, extra));
  const view: BootView = {
    kind: input.kind,
    purpose: decision.purpose,
    reason: decision.reason,
    mac,
    pxelinuxMac: mac ? pxelinuxMacName(mac as MacAddress) : '',
    hostname,
    systemId: node?.systemId ?? '',
    status: node?.status ?? 'unknown',
    osystem: image.os,
    release: image.release,
    arch,
    subarch,
    label,
    kernelOpts: node?.kernelOpts ?? '',
    cmdline: joinKernelParams(params),
    params,
    retrySeconds: input.retrySeconds,
    server: { address: server.address, httpPort: server.httpPort, httpBase, grubHttp: `(http,${urlHost(server.address)}:${server.httpPort})`, grubTftp: `(tftp,${urlHost(server.address)})` },
    urls,
    paths: { kernel: `${imageDir}/kernel`, initrd: `${imageDir}/initrd`, squashfs: `${imageDir}/squashfs` },
    config,
    callback: callbackFor(config, node?.systemId ?? '', Boolean(node?.token)),
    json: (v: unknown) => JSON.stringify(v),
    say: sayable,
  };
  if (input.revealToken && node?.token && isAnswerKind(input.kind)) {
    view.token = {
      consumerKey: node.token.consumerKey.reveal(),
      tokenKey: node.token.tokenKey.reveal(),
      tokenSecret: node.token.tokenSecret.reveal(),
    };
  }
  return view;
}
