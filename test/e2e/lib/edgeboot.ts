import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Netns } from './netns.js';
import { edgebootCli } from './paths.js';
import type { ManagedProcess } from './process.js';
import { waitFor } from './wait.js';

/** Options for `startEdgeboot`. */
export interface EdgebootOptions {
  ns: Netns;
  /** Folder for the config, inventory, key file and log. */
  dir: string;
  /** The inventory document: `{ nodes, config, boot_selections }` as in ARCHITECTURE.md. */
  inventory: Record<string, unknown>;
  /** boot_root; default `<dir>/boot`. */
  bootRoot?: string;
  /** Default 5248 (the namespace is private, so the fixed port never collides). */
  httpPort?: number;
  /** Address to listen on; default all. */
  listen?: string;
  /** Enables TFTP on this port when set. */
  tftpPort?: number;
  /** answers.bind_client_ip; default true. */
  bindClientIp?: boolean;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  templateDirs?: string[];
  /** Extra top-level config keys, merged over the generated ones. */
  extraConfig?: Record<string, unknown>;
}

/** A running `edgeboot serve` inside the namespace. */
export interface EdgebootRun {
  process: ManagedProcess;
  /** `http://<serverIp>:<port>` */
  baseUrl: string;
  /** The URL DHCP hands to iPXE clients. */
  bootIpxeUrl: string;
  configFile: string;
  inventoryFile: string;
  bootRoot: string;
  logFile: string;
  log(): Promise<string>;
}

/** The config document the runner writes (exported so tests can show or extend it). */
export function edgebootConfig(o: EdgebootOptions, paths: { inventory: string; bootRoot: string; keyFile: string }) {
  return {
    inventory: paths.inventory,
    boot_root: paths.bootRoot,
    template_dirs: o.templateDirs ?? [],
    server_address: 'auto',
    tftp: o.tftpPort === undefined ? { enabled: false } : { enabled: true, port: o.tftpPort },
    http: { port: o.httpPort ?? 5248, listen: o.listen ?? '0.0.0.0' },
    answers: { key_file: paths.keyFile, bind_client_ip: o.bindClientIp ?? true },
    log: { level: o.logLevel ?? 'info' },
    ...(o.extraConfig ?? {}),
  };
}

/** Write a config and inventory, start `node dist/src/cli/edgeboot.js serve` in the namespace and wait for /healthz. */
export async function startEdgeboot(o: EdgebootOptions): Promise<EdgebootRun> {
  const cli = edgebootCli();
  const bootRoot = o.bootRoot ?? join(o.dir, 'boot');
  await mkdir(bootRoot, { recursive: true });
  const inventoryFile = join(o.dir, 'inventory.yaml');
  const configFile = join(o.dir, 'edgeboot.yaml');
  const logFile = join(o.dir, 'edgeboot.log');
  await writeFile(inventoryFile, stringify(o.inventory));
  const config = edgebootConfig(o, { inventory: inventoryFile, bootRoot, keyFile: join(o.dir, 'url-signing.key') });
  await writeFile(configFile, stringify(config));

  const env = { ...process.env };
  // The environment must not override the generated config.
  for (const k of Object.keys(env)) if (k.startsWith('EDGEBOOT_')) delete env[k];
  const proc = o.ns.spawn('edgeboot', process.execPath, [cli, 'serve', '--config', configFile], logFile, env);
  const log = () => readFile(logFile, 'utf8').catch(() => '');
  const port = o.httpPort ?? 5248;
  const baseUrl = `http://${o.ns.serverIp}:${port}`;
  await waitFor('edgeboot /healthz', 30_000, async () => {
    if (proc.hasExited()) throw new Error(`edgeboot exited before it was healthy:\n${await log()}`);
    const r = await o.ns.exec('curl', ['-fsS', '--max-time', '2', '-o', '/dev/null', `${baseUrl}/healthz`], { allowFailure: true });
    return r.code === 0;
  });
  return { process: proc, baseUrl, bootIpxeUrl: `${baseUrl}/boot.ipxe`, configFile, inventoryFile, bootRoot, logFile, log };
}

/**
 * An inventory with one node deploying Debian trixie (the d-i preseed path), booting on the serial console;
 * `tag` names the test in its system_id and token parts (`ck-<tag>`, `tk-<tag>`, `ts-<tag>`).
 */
export function deployingDebianInventory(mac: string, hostname: string, tag: string): Record<string, unknown> {
  return {
    config: { debian_archive: 'http://deb.debian.org/debian', metadata_url: 'http://region.invalid:5240/MAAS/metadata/' },
    boot_selections: [{ os: 'debian', release: 'trixie', arches: ['amd64'], subarches: ['generic'], labels: ['stable'] }],
    nodes: [deployingDebianNode(mac, hostname, tag)],
  };
}

/** One node deploying Debian trixie on the serial console; `secret` (default `ts-<tag>`) is its token secret. */
export function deployingDebianNode(mac: string, hostname: string, tag: string, secret = `ts-${tag}`): Record<string, unknown> {
  return {
    system_id: `${tag}${randomBytes(3).toString('hex')}`,
    hostname,
    macs: [mac],
    arch: 'amd64/generic',
    status: 'deploying',
    osystem: 'debian',
    release: 'trixie',
    // panic=-1: a kernel panic reboots at once, and -no-reboot turns that into a quick exit.
    kernel_opts: 'console=ttyS0 panic=-1',
    token: { consumer_key: `ck-${tag}`, token_key: `tk-${tag}`, token_secret: secret },
  };
}
