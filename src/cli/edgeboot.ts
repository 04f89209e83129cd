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
  run(values: Record<string, unknown>, configPath: string): Promise<number>;
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
  try {
    values = parseArgs({ args: rest, options: verb.options, allowPositionals: false, strict: true }).values;
  } catch (err) {
    process.stderr.write(`edgeboot ${verbName}: ${messageOf(err)}\n\n${verb.usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${verb.usage}\n`);
    return 0;
  }
  return verb.run(values, String(values.config));
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
