import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { type Config, packageRoot } from '../config/config.js';
import { hasCode } from '../core/errors.js';
import type { MacAddress } from '../core/mac.js';
import type { MetricsRegistry } from '../core/metrics.js';
import type { Node } from '../core/node.js';
import { DEFAULT_ARM64_LOADER, loaderInstalled } from '../files/loader-present.js';
import type { Service } from '../core/service.js';
import type { LocalAddress } from '../net/interfaces.js';
import type { DiscoveryLog } from '../observe/discoveries.js';
import type { LeaseBook } from '../observe/lease-book.js';
import { type BootPlan, type PlanInput, planBoot } from './boot-plan.js';
import { LeaseIntake } from './lease-intake.js';
import { ProxyDhcp } from './proxy-dhcp.js';

/** The lease hook executable shipped in this package (built by `npm run build`). */
export function defaultLeaseHookPath(): string {
  return resolve(packageRoot(), 'dist/src/dhcp-hooks/lease-hook.js');
}

/** The lease hook's shared secret: `dhcp.lease_secret_file`, else lease-hook.secret beside the URL-signing key. */
export function leaseSecretFile(config: Config): string {
  return config.dhcp.lease_secret_file ?? join(dirname(config.answers.key_file), 'lease-hook.secret');
}

/** The plan inputs the `dhcp` block decides, for a given next-server address. */
export function planInputFromConfig(config: Config, serverAddress: string, httpPort = config.http.port): PlanInput {
  const d = config.dhcp;
  return {
    serverAddress,
    httpPort,
    bios: d.bios_loader,
    uefi: d.uefi_loader,
    // arm64 clients get Debian's signed GRUB by default once `edgeboot loaders fetch --arch arm64` installed it.
    arm64Loader: d.arm64_loader ?? DEFAULT_ARM64_LOADER,
    secureBoot: d.secure_boot,
    installed: (name) => loaderInstalled(name, { root: config.boot_root, loaderDirs: config.loader_dirs }),
  };
}

/** Parts of the running appliance the DHCP services use. */
export interface DhcpParts {
  leases: LeaseBook;
  discoveries: DiscoveryLog;
  nodes: { byMac(mac: MacAddress): Node | undefined; readonly loaded: boolean };
  addresses: () => LocalAddress[];
  httpPort: number;
  log: Logger;
  metrics: MetricsRegistry;
}

/** The DHCP services `edgeboot serve` runs: the lease intake (unless disabled) and proxyDHCP when `dhcp.proxy` is on. */
export function dhcpServicesFromConfig(config: Config, parts: DhcpParts): Service[] {
  const d = config.dhcp;
  const services: Service[] = [];
  if (d.lease_intake) {
    services.push(
      new LeaseIntake({
        socketPath: d.lease_socket,
        secretFile: leaseSecretFile(config),
        leases: parts.leases,
        discoveries: parts.discoveries,
        nodes: parts.nodes,
        log: parts.log.child({ part: 'lease-intake' }),
        optional: true,
      }),
    );
  }
  if (d.proxy) {
    const cache = new Map<string, BootPlan | undefined>();
    const planFor = (address: string): BootPlan | undefined => {
      const server = config.server_address !== 'auto' ? config.server_address : address;
      if (!cache.has(server)) {
        try {
          cache.set(server, planBoot(planInputFromConfig(config, server, parts.httpPort)));
        } catch (err) {
          if (!hasCode(err, 'E_DHCP')) throw err;
          cache.set(server, undefined);
        }
      }
      return cache.get(server);
    };
    services.push(
      new ProxyDhcp({
        planFor,
        addresses: parts.addresses,
        interfaces: d.proxy_interfaces,
        log: parts.log.child({ part: 'proxydhcp' }),
        metrics: parts.metrics,
      }),
    );
  }
  return services;
}
