import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import type { Logger } from 'pino';
import { collectDefaultMetrics } from 'prom-client';
import { BootService } from './boot/boot-service.js';
import type { Config } from './config/config.js';
import { CapabilitySigner } from './core/capability.js';
import { messageOf } from './core/errors.js';
import { flushLog } from './core/log.js';
import { MetricsRegistry } from './core/metrics.js';
import type { Service } from './core/service.js';
import { dhcpServicesFromConfig } from './dhcp-hooks/from-config.js';
import { loaderChoices } from './dhcp-hooks/loader-choices.js';
import { describeLoader } from './files/boot-files.js';
import { OpenFiles } from './files/open-files.js';
import { TemplateFiles } from './files/template-files.js';
import { createHttpApp } from './http/app.js';
import { HttpService } from './http/http-service.js';
import { loadOrCreateKey } from './http/key-file.js';
import { type LocalAddress, listAddresses } from './net/interfaces.js';
import { neighbourMac } from './net/neighbours.js';
import { DiscoveryLog } from './observe/discoveries.js';
import { LeaseBook } from './observe/lease-book.js';
import { recordLeasesOnTimeline } from './observe/lease-timeline.js';
import { recordRegionDeliveriesOnTimeline } from './observe/region-timeline.js';
import { attachStateMetrics } from './observe/state-metrics.js';
import { attachTimelineMetrics } from './observe/timeline-metrics.js';
import { BootTimeline } from './observe/timeline.js';
import { Renderer } from './render/renderer.js';
import { TemplateStore } from './render/template-store.js';
import { feedFromConfig, regionServicesFromConfig } from './sync/index.js';
import { NodeStore } from './sync/nodes/index.js';
import { tftpServiceFromConfig } from './tftp/from-config.js';
import type { TftpService } from './tftp/server.js';

/**
 * A running appliance, as tests and `serve` reach it: named ports, each narrow, and how to reload or stop.
 * Everything else stays inside the composition.
 */
export interface Appliance {
  /** The bound HTTP port (the config may ask for port 0). */
  readonly httpPort: number;
  /** The TFTP service when enabled (its endpoints, for tests binding port 0). */
  readonly tftp?: TftpService;
  /** The read side of the nodes in force. */
  readonly store: NodeStore;
  /** What edgeboot saw: per-MAC timeline, leases, unknown MACs. */
  readonly timeline: BootTimeline;
  readonly leases: LeaseBook;
  readonly discoveries: DiscoveryLog;
  readonly metrics: MetricsRegistry;
  /** Re-read inventory and templates and let each service reload, without dropping transfers (SIGHUP). */
  reload(): Promise<void>;
  /** Stop every service (they drain together within `graceMs`), then the feeds. */
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
  recordLeasesOnTimeline(leases, timeline);
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
    neighbourMac,
  });
  return { store, templates, templateFiles, signer, renderer, inventory, region, events, discoveries, leases, timeline, boot };
}

/** The one composition root: wire every part from the config and start its services. */
export async function startAppliance(config: Config, log: Logger): Promise<Appliance> {
  const core = await composeCore(config, log, { watch: true });
  await core.inventory.start();
  const metrics = new MetricsRegistry();
  // The standard process_* and nodejs_* series (CPU, RSS, fds, event-loop lag, GC) stock dashboards expect.
  collectDefaultMetrics({ register: metrics.prom });
  attachStateMetrics(metrics, { store: core.store, templates: core.templates });
  attachTimelineMetrics(core.timeline, metrics);
  if (core.region) recordRegionDeliveriesOnTimeline((fn) => core.region!.events.onDelivered(fn), core.timeline);
  let addresses = listAddresses();
  const addressTimer = setInterval(() => {
    addresses = listAddresses();
  }, 30_000);
  addressTimer.unref();
  let listedAt = Date.now();
  const freshAddresses = (): LocalAddress[] => {
    if (Date.now() - listedAt >= 1000) {
      addresses = listAddresses();
      listedAt = Date.now();
    }
    return addresses;
  };

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
    fileCache: { maxTotalBytes: config.http.cache_bytes, maxFileBytes: config.http.cache_file_bytes },
    timeline: core.timeline,
    renderer: core.renderer,
    openFiles,
    loaders: () => loaderChoices(config, addresses),
    loaderFiles: (names) =>
      Promise.all(
        names.map(async (n) => {
          const r = await describeLoader(n, { root: config.boot_root, loaderDirs: config.loader_dirs });
          return { name: n, path: r.path ?? null, note: r.note };
        }),
      ),
    health: () => ({ templateErrors: core.templates.errors(), inventoryError: core.inventory.lastError ?? null, ...regionSide.health() }),
    draining: () => http.draining,
  });
  const http = new HttpService(app, { port: config.http.port, listen: config.http.listen, log });
  const tftp = config.tftp.enabled ? tftpServiceFromConfig(config, { boot: core.boot, log: log.child({ part: 'tftp' }), metrics, openFiles }) : undefined;

  // Services start in order (HTTP first: the others need its port) and stop together, each within the grace period.
  const running: Service[] = [];
  const stopAll = (graceMs: number) => Promise.all([...running].reverse().map((s) => s.stop(graceMs)));
  const closeFeeds = async () => {
    await core.inventory.stop();
    await core.templateFiles.close();
  };
  try {
    await http.start();
    running.push(http);
    core.boot.setHttpPort(http.port);
    log.info({ port: http.port, listen: config.http.listen, nodes: core.store.status().nodes }, 'http listening');
    const edges: Service[] = [
      ...(tftp ? [tftp] : []),
      // proxyDHCP needs an address as soon as its interface gets carrier (listed at most once a second).
      ...dhcpServicesFromConfig(config, { leases: core.leases, discoveries: core.discoveries, nodes: core.store, addresses: freshAddresses, httpPort: http.port, log, metrics }),
      ...regionSide.services,
    ];
    for (const s of edges) {
      await s.start();
      running.push(s);
    }
  } catch (err) {
    // A service that cannot start (e.g. TFTP cannot bind) must stop the whole appliance, so systemd sees it.
    clearInterval(addressTimer);
    await stopAll(1000).catch(() => undefined);
    await closeFeeds();
    throw err;
  }

  return {
    httpPort: http.port,
    ...(tftp && { tftp }),
    store: core.store,
    timeline: core.timeline,
    leases: core.leases,
    discoveries: core.discoveries,
    metrics,
    async reload() {
      await Promise.all([core.inventory.reload(), core.templateFiles.loadAll(), ...running.map((s) => s.reload?.())]);
      addresses = listAddresses();
      log.info('reloaded inventory and templates');
    },
    async stop(graceMs = 10_000) {
      clearInterval(addressTimer);
      await stopAll(graceMs);
      await closeFeeds();
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
      .then(() => flushLog(log, 5000))
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
