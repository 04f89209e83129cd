#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH, loadConfig, packageRoot } from '../config/config.js';
import { EdgebootError, messageOf } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { runCheck } from './check.js';
import { runInterfaces } from './interfaces.js';
import { runRender } from './render.js';

/** Each verb: its one-line summary, its usage text, and what it runs. */
interface Verb {
  summary: string;
  usage: string;
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  /** Verbs with sub-commands and arguments (`nodes approve MAC`) take positionals. */
  positionals?: boolean;
  run(values: Record<string, unknown>, configPath: string, positionals: string[]): Promise<number>;
}

const common = {
  config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_PATH },
  help: { type: 'boolean', short: 'h' },
} as const;

const VERBS: Record<string, Verb> = {
  serve: {
    summary: 'run the appliance: HTTP (and TFTP) boot service',
    usage: 'edgeboot serve [--config FILE]\n\nStarts the HTTP boot service (and TFTP when enabled) and follows the inventory or region.\nSIGHUP re-reads inventory and templates; SIGTERM lets running transfers finish.',
    options: { ...common },
    async run(_v, configPath) {
      const config = loadConfig(configPath);
      const log = createLogger(config.log.level);
      const { serve } = await import('../main.js');
      await serve(config, log);
      return -1; // keep running
    },
  },
  render: {
    summary: 'render a boot script or answer file for a MAC, as a machine would get it',
    usage:
      'edgeboot render --mac MAC --kind KIND [--explain] [--client-ip IP] [--server-address IP] [--buildarch ARCH] [--config FILE]\n\nKIND is one of ipxe, pxelinux, grub, preseed, user-data, meta-data.\n--explain first prints the purpose and why, the template candidates tried and the one chosen.',
    options: {
      ...common,
      mac: { type: 'string' },
      kind: { type: 'string', default: 'ipxe' },
      explain: { type: 'boolean' },
      'client-ip': { type: 'string', default: '127.0.0.1' },
      'server-address': { type: 'string' },
      buildarch: { type: 'string' },
    },
    run: (v, c) => runRender(v, c),
  },
  check: {
    summary: 'validate config, templates, inventory and loaders; non-zero exit on problems',
    usage: 'edgeboot check [--config FILE]\n\nReports every problem found, then exits 1 if there was any.',
    options: { ...common },
    run: (_v, c) => runCheck(c),
  },
  interfaces: {
    summary: 'list the local interfaces and addresses edgeboot would answer on',
    usage: 'edgeboot interfaces [--json]',
    options: { ...common, json: { type: 'boolean' } },
    run: (v) => runInterfaces(Boolean(v.json)),
  },
  'dhcp-config': {
    summary: 'print the DHCP server snippet that points clients at edgeboot (dnsmasq, ISC dhcpd, Kea)',
    usage:
      'edgeboot dhcp-config --server dnsmasq|isc|kea [--interface IF | --subnet CIDR | --server-address IP] [--ipv6] [--hook PATH | --no-hook] [--config FILE]\n\nnext-server is edgeboot\'s IPv4 address on the chosen interface or subnet. An IPv6 --subnet or --server-address (or --ipv6)\nwrites DHCPv6 instead (dnsmasq, kea): option 59 boot URLs by vendor class, for UEFI HTTP Boot, PXEv6 and iPXE. The snippet maps option 93 to a loader,\nsends iPXE clients to http://<address>:<http.port>/boot.ipxe and wires the lease hook. Notes go to stderr.',
    options: {
      ...common,
      server: { type: 'string' },
      interface: { type: 'string' },
      subnet: { type: 'string' },
      'server-address': { type: 'string' },
      ipv6: { type: 'boolean' },
      hook: { type: 'string' },
      'no-hook': { type: 'boolean' },
    },
    run: async (v, c) => (await import('./dhcp-config.js')).runDhcpConfig(v, c),
  },
  'dhcp-probe': {
    summary: 'broadcast a PXE DHCPDISCOVER and list every server that offers (rogue-server check)',
    usage:
      'edgeboot dhcp-probe --interface IF [--timeout SECONDS (5)] [--mac MAC] [--arch N] [--json]\n\nNeeds UDP port 68 (root) and an IPv4 address on IF. Exit 0: one server; 3: none; 4: several.',
    options: {
      ...common,
      interface: { type: 'string' },
      timeout: { type: 'string' },
      mac: { type: 'string' },
      arch: { type: 'string' },
      json: { type: 'boolean' },
    },
    run: async (v) => (await import('./dhcp-probe.js')).runDhcpProbe(v),
  },
  region: {
    summary: 'run a reference region: serve the region API from inventory files or PostgreSQL to rack appliances',
    usage:
      'edgeboot region (--inventory PATH | --database postgres://… [--inventory PATH] [--keep-revisions N]) --tokens FILE [--listen ADDR] [--resources DIR] [--state-dir DIR] [--tls-cert FILE --tls-key FILE] [--log-level LEVEL]\n\nADDR is host:port (default 0.0.0.0:5240). FILE maps cluster ids to bearer tokens:\n  clusters: { rack-a: <token> }\n  admin: <token>        # for "edgeboot nodes"\nDiscovered machines are written into the inventory as status: new. SIGHUP re-reads tokens and inventory.\nWith --database the state lives in PostgreSQL (schema applied on start; any number of replicas may share it):\n--inventory then imports nodes the database does not hold yet and replaces config and boot selections;\n--keep-revisions N (default 10000) is the changes-feed history kept. Keep passwords in ~/.pgpass or PGPASSFILE.\n--state-dir (file-backed store) keeps the revision feed\'s state (region-revisions.json) so a restarted region answers racks with deltas.',
    options: {
      ...common,
      inventory: { type: 'string' },
      database: { type: 'string' },
      'keep-revisions': { type: 'string' },
      tokens: { type: 'string' },
      listen: { type: 'string', default: '0.0.0.0:5240' },
      resources: { type: 'string' },
      'state-dir': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
    },
    run: async (v) => (await import('./region.js')).runRegion(v),
  },
  nodes: {
    summary: 'list nodes on the region, approve new ones, set a node\'s status',
    usage:
      'edgeboot nodes list [--json]\nedgeboot nodes approve <mac|system_id>\nedgeboot nodes set-status <mac|system_id> <status> [--reason TEXT]\n\nOptions: --region URL --token-file FILE (the admin token) [--ca-file FILE]; defaults come from the region block of --config.',
    positionals: true,
    options: {
      ...common,
      region: { type: 'string' },
      'token-file': { type: 'string' },
      'ca-file': { type: 'string' },
      reason: { type: 'string' },
      json: { type: 'boolean' },
    },
    run: async (v, c, p) => (await import('./nodes.js')).runNodes(v, c, p),
  },
  explain: {
    summary: 'ask the running appliance what a MAC is served and why, and show its boot timeline',
    usage:
      'edgeboot explain <mac> [--url http://127.0.0.1:5248] [--json] [--config FILE]\n\nPrints the purpose and the reason, the template candidates per kind and the one chosen, the loader each\nDHCP client architecture would get, the stuck diagnosis and the boot timeline. Read-only; no tokens.',
    positionals: true,
    options: { ...common, url: { type: 'string' }, json: { type: 'boolean' } },
    run: async (v, c, p) => (await import('./explain.js')).runExplain(v, c, p),
  },
  images: {
    summary: 'list or sync the boot images the region selects for this cluster',
    usage:
      'edgeboot images list [--config FILE]\nedgeboot images sync [--config FILE]\n\nlist: each selected file and whether it is on disk and verified. sync: download what is missing (verified,\natomic), then remove images no longer selected. A progress bar on a terminal, plain lines otherwise.',
    positionals: true,
    options: { ...common, json: { type: 'boolean' } },
    run: async (v, c, p) => (await import('./images.js')).runImages(v, c, p),
  },
  loaders: {
    summary: 'fetch signed boot loaders of another architecture (arm64) through apt, signatures checked',
    usage:
      'edgeboot loaders fetch --arch arm64 [--dest DIR] [--suite SUITE] [--mirror URL]\n\nDownloads grub-efi-arm64-signed and shim-signed for ARCH with a private apt configuration (the host\'s dpkg\narchitectures are not changed; apt refuses unsigned or badly signed indexes), unpacks only the loaders into\nDIR/ARCH (default /var/lib/edgeboot/loaders/ARCH, one of the default loader_dirs) and prints what it installed.\nSUITE and URL default to the host\'s Debian release and mirror.',
    options: { ...common, arch: { type: 'string' }, dest: { type: 'string' }, suite: { type: 'string' }, mirror: { type: 'string' } },
    positionals: true,
    run: async (v, _c, p) => (await import('./loaders.js')).runLoaders(v, p),
  },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Top-level help, also the source of the man page. */
export function mainHelp(): string {
  const width = Math.max(...Object.keys(VERBS).map((k) => k.length));
  const verbs = Object.entries(VERBS)
    .map(([k, v]) => `  ${k.padEnd(width)}  ${v.summary}`)
    .join('\n');
  return `edgeboot ${version()} — netboot appliance\n\nUsage: edgeboot <command> [options]\n\nCommands:\n${verbs}\n\nOptions:\n  --config FILE  configuration (default ${DEFAULT_CONFIG_PATH}); EDGEBOOT_* variables override keys\n  --version      print the version\n  --help         this text; "edgeboot <command> --help" for a command\n`;
}

async function main(argv: string[]): Promise<number> {
  const [verbName, ...rest] = argv;
  if (verbName === '--version' || verbName === '-V') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (!verbName || verbName === '--help' || verbName === '-h' || verbName === 'help') {
    process.stdout.write(mainHelp());
    return verbName ? 0 : 2;
  }
  const verb = VERBS[verbName];
  if (!verb) {
    process.stderr.write(`edgeboot: unknown command "${verbName}"; run "edgeboot --help" for the list.\n`);
    return 2;
  }
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: rest, options: verb.options, allowPositionals: verb.positionals ?? false, strict: true });
    values = parsed.values;
    positionals = parsed.positionals;
  } catch (err) {
    process.stderr.write(`edgeboot ${verbName}: ${messageOf(err)}\n\n${verb.usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${verb.usage}\n`);
    return 0;
  }
  return verb.run(values, String(values.config), positionals);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    const msg = err instanceof EdgebootError ? err.message : `unexpected error: ${messageOf(err)}`;
    process.stderr.write(`edgeboot: ${msg}\n`);
    process.exitCode = err instanceof EdgebootError && err.code === 'E_CONFIG' ? 78 : 1;
  },
);
