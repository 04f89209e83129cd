import type { Config } from '../config/config.js';
import { messageOf } from '../core/errors.js';
import type { LocalAddress } from '../net/interfaces.js';
import type { LoaderChoice } from '../observe/explain.js';
import { planBoot } from './boot-plan.js';
import { planInputFromConfig } from './from-config.js';

/** The DHCP boot plan's answer per client architecture, for `edgeboot explain`. */
export function loaderChoices(config: Config, addresses: LocalAddress[]): LoaderChoice[] {
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
