import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { collectDefaultMetrics } from 'prom-client';
import { BootService } from './boot/boot-service.js';
import type { Config } from './config/config.js';
import { CapabilitySigner } from './core/capability.js';
import { messageOf } from './core/errors.js';
import { tryParseMac } from './core/mac.js';
import { MetricsRegistry } from './core/metrics.js';
import type { Service } from './core/service.js';
import { planBoot } from './dhcp-hooks/boot-plan.js';
import { dhcpServicesFromConfig, planInputFromConfig } from './dhcp-hooks/from-config.js';
import type { LoaderChoice } from './observe/explain.js';
import { OpenFiles } from './files/open-files.js';
import { createHttpApp } from './http/app.js';
import { loadOrCreateKey } from './http/key-file.js';
import { type LocalAddress, listAddresses } from './net/interfaces.js';
import { attachTimelineMetrics } from './observe/timeline-metrics.js';
import { BootTimeline } from './observe/timeline.js';
import { Renderer } from './render/renderer.js';
import { TemplateStore } from './render/template-store.js';
import { DiscoveryLog } from './observe/discoveries.js';
import type { BootEventSink } from './observe/boot-milestones.js';
import { LeaseBook } from './observe/lease-book.js';
import type { SnapshotFeed } from './sync/nodes/index.js';
import { NodeStore } from './sync/nodes/index.js';
import { feedFromConfig, type RegionParts, regionServicesFromConfig } from './sync/index.js';
import { TemplateFiles } from './files/template-files.js';
import { tftpServiceFromConfig } from './tftp/from-config.js';

/** A running appliance: its parts (for tests and the CLI) and how to stop it. */
export interface Appliance {
  config: Config;
  store: NodeStore;
  templates: TemplateStore;
  renderer: Renderer;
  boot: BootService;
  discoveries: DiscoveryLog;
  leases: LeaseBook;
  timeline: BootTimeline;
  metrics: MetricsRegistry;
  /** The node feed: inventory files, or the region when `region` is configured. */
  inventory: SnapshotFeed;
  /** Where edges report boot milestones (`emitBootEvent`); a no-op without a region. */
  events: BootEventSink;
  region?: RegionParts;
  http?: Server;
  httpPort?: number;
  /** Extra services started after HTTP (TFTP, DHCP lease intake, proxyDHCP, region follower, …). */
  services: Service[];
  addresses: () => LocalAddress[];
  reload(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

/** Build the core parts (no listeners): shared by `serve`, `render` and `check`. */
export async function composeCore(config: Config, log: Logger, options: { watch?: boolean; createKey?: boolean } = {}) {
  const store = new NodeStore();
  const templates = new TemplateStore([...config.template_dirs, config.shipped_templates]);
  const templateFiles = new TemplateFiles(templates, log.child({ part: 'templates' }));
  await templateFiles.loadAll();
  if (options.watch) await templateFiles.watch();
  // Offline verbs (render, check) must not create state: without a key file they sign with a throwaway key.
  const key =
    options.createKey === false && !existsSync(config.answers.key_file) ? randomBytes(32) : await loadOrCreateKey(config.answers.key_file);
  const signer = new CapabilitySigner({ key, ttlSeconds: config.answers.ttl_seconds, bindIp: config.answers.bind_client_ip });
  const renderer = new Renderer({
    templates,
    snapshot: () => store.snapshot(),
    answerPrefix: (mac, ip) => `/answers/${mac.replace(/:/g, '-')}/${signer.sign(mac, ip)}`,
    retrySeconds: config.wait_retry_seconds,
  });
  const { feed: inventory, region, events } = feedFromConfig(config, store, log, { watch: options.watch });
  const discoveries = new DiscoveryLog();
  const leases = new LeaseBook();
  const timeline = new BootTimeline();
  leases.onRecord((l) => {
    timeline.learnIp(l.ip, l.mac);
    timeline.record(l.mac, { at: l.lastSeen, stage: 'dhcp', via: 'dhcp', detail: `${l.ip}${l.arch ? ` arch ${l.arch}` : ''}`, outcome: 'ok' });
  });
  const boot = new BootService({
    source: inventory,
    store,
    renderer,
    signer,
    leases,
    discoveries,
    log: log.child({ part: 'boot' }),
    serverAddress: config.server_address,
    httpPort: config.http.port,
    retrySeconds: config.wait_retry_seconds,
    events,
    timeline,
  });
  return { store, templates, templateFiles, signer, renderer, inventory, region, events, discoveries, leases, timeline, boot };
}

/** The DHCP boot plan's answer per client architecture, for `edgeboot explain`. */
function loaderChoices(config: Config, addresses: LocalAddress[]): LoaderChoice[] {
  const configured = config.server_address !== 'auto' ? config.server_address : undefined;
  const address = configured ?? addresses.find((a) => a.family === 'IPv4' && !a.internal)?.address;
  // Without a LAN address the plan cannot be built; say so instead of inventing one.
  if (!address) return [{ rule: 'none', arches: [], filename: 'no non-loopback IPv4 address to offer as next-server' }];
  try {
    return planBoot(planInputFromConfig(config, address)).rules.map((r) => ({
      rule: r.name,
      arches: r.match.kind === 'ipxe' ? 'iPXE' : r.match.arches,
      filename: r.filename,
    }));
  } catch (err) {
    return [{ rule: 'none', arches: [], filename: messageOf(err) }];
  }
}

/** The one composition root: wire every part from the config and start listening. */
export async function startAppliance(config: Config, log: Logger): Promise<Appliance> {
  const core = await composeCore(config, log, { watch: true });
  await core.inventory.start();
  const metrics = new MetricsRegistry();
  // The standard process_* and nodejs_* series (CPU, RSS, fds, event-loop lag, GC) stock dashboards expect.
  collectDefaultMetrics({ register: metrics.prom });
  metrics.gauge('edgeboot_nodes_loaded', 'Nodes in the snapshot in force.', () => core.store.status().nodes);
  metrics.gauge('edgeboot_snapshot_age_seconds', 'Seconds since the snapshot in force was loaded.', () => core.store.status().ageSeconds);
  attachTimelineMetrics(core.timeline, metrics);
  // Region events sent: one timeline entry per MAC per batch the region accepted.
  core.region?.events.onDelivered((batch) => {
    const perMac = new Map<string, string[]>();
    for (const e of batch) if (e.mac) perMac.set(e.mac, [...(perMac.get(e.mac) ?? []), e.kind]);
    for (const [mac, kinds] of perMac) {
      const parsed = tryParseMac(mac);
      if (parsed) core.timeline.record(parsed, { at: Date.now(), stage: 'region-event', via: 'region', detail: `sent ${kinds.join(', ')}`.slice(0, 120), outcome: 'ok' });
    }
  });
  metrics.gauge('edgeboot_template_errors', 'Templates that failed to compile (serving their last good version).', () => core.templates.errors().length);
  let addresses = listAddresses();
  const addressTimer = setInterval(() => {
    addresses = listAddresses();
  }, 30_000);
  addressTimer.unref();

  let draining = false;
  const openFiles = new OpenFiles();
  const inUse = (dir: string) => {
    if (openFiles.inUseUnder(dir)) return true;
    try {
      return openFiles.inUseUnder(realpathSync(dir));
    } catch {
      return false;
    }
  };
  const regionSide = regionServicesFromConfig(config, { region: core.region, store: core.store, discoveries: core.discoveries, log, metrics, inUse });
  const app = createHttpApp({
    boot: core.boot,
    store: core.store,
    log: log.child({ part: 'http' }),
    metrics,
    bootRoot: config.boot_root,
    loaderDirs: config.loader_dirs,
    maxStreams: config.http.max_streams,
    timeline: core.timeline,
    renderer: core.renderer,
    openFiles,
    loaders: () => loaderChoices(config, addresses),
    health: () => ({ templateErrors: core.templates.errors(), inventoryError: core.inventory.lastError ?? null, ...regionSide.health() }),
    draining: () => draining,
  });
  const http = await new Promise<Server>((resolve, reject) => {
    // Express 5 calls the listen callback with the error too (e.g. EADDRINUSE).
    const s = app.listen(config.http.port, config.http.listen, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  http.keepAliveTimeout = 5_000;
  http.headersTimeout = 10_000;
  http.requestTimeout = 30_000;
  const httpPort = (http.address() as AddressInfo).port;
  core.boot.setHttpPort(httpPort);
  log.info({ port: httpPort, listen: config.http.listen, nodes: core.store.status().nodes }, 'http listening');

  // Each edge adds its service here (one line each); they start in order and stop in reverse.
  const services: Service[] = [];
  if (config.tftp.enabled) services.push(tftpServiceFromConfig(config, { boot: core.boot, log: log.child({ part: 'tftp' }), metrics, openFiles }));
  services.push(
    ...dhcpServicesFromConfig(config, { leases: core.leases, discoveries: core.discoveries, nodes: core.store, addresses: () => addresses, httpPort, log, metrics }),
  );
  services.push(...regionSide.services);
  const started: Service[] = [];
  try {
    for (const s of services) {
      await s.start();
      started.push(s);
    }
  } catch (err) {
    // A service that cannot start (e.g. TFTP cannot bind) must stop the whole appliance, so systemd sees it.
    await Promise.all(started.map((s) => s.stop(1000).catch(() => undefined)));
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await core.inventory.stop();
    await core.templateFiles.close();
    throw err;
  }

  return {
    config,
    ...core,
    metrics,
    http,
    httpPort,
    services,
    addresses: () => addresses,
    async reload() {
      await Promise.all([core.inventory.reload(), core.templateFiles.loadAll(), ...services.map((s) => s.reload?.())]);
      addresses = listAddresses();
      log.info('reloaded inventory and templates');
    },
    async stop(graceMs = 10_000) {
      clearInterval(addressTimer);
      draining = true;
      // HTTP stops taking connections at once and drains under the same grace period as TFTP (not after it).
      const httpDrained = new Promise<void>((resolve) => {
        // Connections that fall idle after their last response are closed too, so none starts a new transfer.
        const idle = setInterval(() => http.closeIdleConnections(), 200);
        const timer = setTimeout(() => {
          clearInterval(idle);
          http.closeAllConnections();
          resolve();
        }, graceMs);
        timer.unref();
        http.close(() => {
          clearTimeout(timer);
          clearInterval(idle);
          resolve();
        });
        http.closeIdleConnections();
      });
      await Promise.all([...services].reverse().map((s) => s.stop(graceMs)));
      await httpDrained;
      await core.inventory.stop();
      await core.templateFiles.close();
    },
  };
}

/** Run until SIGTERM/SIGINT; SIGHUP re-reads inventory and templates without dropping transfers. */
export async function serve(config: Config, log: Logger): Promise<void> {
  const appliance = await startAppliance(config, log);
  process.on('SIGHUP', () => {
    appliance.reload().catch((err) => log.error({ err: messageOf(err) }, 'reload failed'));
  });
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping: letting running transfers finish');
    appliance
      .stop()
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
