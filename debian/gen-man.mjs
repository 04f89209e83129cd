#!/usr/bin/env node
// Generate edgeboot(8) from the CLI's own help text, so the man page never drifts from `edgeboot --help`.
// Usage: node debian/gen-man.mjs path/to/dist/src/cli/edgeboot.js > edgeboot.8
import { execFileSync } from 'node:child_process';

const cli = process.argv[2];
if (!cli) {
  process.stderr.write('usage: gen-man.mjs <path to edgeboot.js>\n');
  process.exit(2);
}

/** Run the CLI and return its stdout (help exits 0). */
function help(args) {
  return execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
}

/** Escape text for roff: backslashes, and a leading dot or quote that roff would read as a request. */
function esc(text) {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

const main = help(['--help']);
const version = /^edgeboot (\S+)/.exec(main)?.[1] ?? 'unknown';
const commandBlock = /\nCommands:\n([\s\S]*?)\n\n/.exec(main)?.[1] ?? '';
const verbs = commandBlock
  .split('\n')
  .map((l) => /^\s+(\S+)\s+(.*)$/.exec(l))
  .filter(Boolean)
  .map((m) => ({ name: m[1], summary: m[2], usage: help([m[1], '--help']).trimEnd() }));
if (verbs.length === 0) {
  process.stderr.write('gen-man.mjs: no commands found in "edgeboot --help"\n');
  process.exit(1);
}
const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? Math.floor(Date.now() / 1000));
const date = new Date(epoch * 1000).toISOString().slice(0, 10);

const out = [];
out.push(`.TH EDGEBOOT 8 "${date}" "edgeboot ${esc(version)}" "System Administration"`);
out.push('.SH NAME', 'edgeboot \\- netboot appliance: boot loaders, per\\-node boot scripts and installer answer files');
out.push('.SH SYNOPSIS', '.B edgeboot', '.I command', '.RB [ \\-\\-config', '.IR FILE ]', '.RI [ options ]');
out.push('.br', '.B edgeboot \\-\\-version', '.br', '.B edgeboot \\-\\-help');
out.push(
  '.SH DESCRIPTION',
  'edgeboot runs beside a rack of bare\\-metal servers. The site\'s DHCP server points next\\-server at it;',
  'machines that PXE boot get their boot loader over TFTP or HTTP, then a boot script and an installer',
  'answer file (preseed, cloud\\-init) rendered for that node from its state at that moment.',
  'Nothing rendered is written to disk.',
);
out.push('.SH COMMANDS');
for (const v of verbs) {
  out.push(`.SS ${esc(v.name)}`, esc(v.summary.charAt(0).toUpperCase() + v.summary.slice(1)) + '.', '.PP', '.nf', esc(v.usage), '.fi');
}
out.push(
  '.SH OPTIONS',
  '.TP',
  '.BR \\-c ", " \\-\\-config " \\fIFILE\\fR"',
  'Configuration file (default \\fI/etc/edgeboot/edgeboot.yaml\\fR).',
  '.TP',
  '.BR \\-h ", " \\-\\-help',
  'Print the help of edgeboot or of one command.',
  '.TP',
  '.BR \\-V ", " \\-\\-version',
  'Print the version.',
);
out.push(
  '.SH ENVIRONMENT',
  '.TP',
  '.B EDGEBOOT_\\fIKEY\\fR',
  'Overrides a configuration key; the path is upper\\-cased and joined with underscores',
  '(\\fBEDGEBOOT_HTTP_PORT\\fR, \\fBEDGEBOOT_TFTP_PORT\\fR, \\fBEDGEBOOT_BOOT_ROOT\\fR). Values are read as YAML.',
);
out.push(
  '.SH SIGNALS',
  '.TP',
  '.B SIGHUP',
  'Re\\-read the inventory (or region snapshot), the templates and the configuration of the running',
  'services without dropping transfers in progress (\\fBsystemctl reload edgeboot\\fR).',
  '.TP',
  '.B SIGTERM',
  'Stop accepting new work and let running transfers finish (up to 10 seconds).',
);
out.push(
  '.SH EXIT STATUS',
  '0 on success; 1 when \\fBcheck\\fR found problems or on an unexpected error;',
  '2 on a usage error; 78 when the configuration is invalid (systemd does not restart the service then).',
);
out.push(
  '.SH FILES',
  '.TP',
  '.I /etc/edgeboot/edgeboot.yaml',
  'Configuration (a conffile: kept on upgrade).',
  '.TP',
  '.I /etc/edgeboot/inventory.d/',
  'Inventory files (*.yaml, *.yml, *.json) describing the nodes, when no region is configured.',
  '.TP',
  '.I /etc/edgeboot/templates/',
  'Override templates, searched before the shipped ones in \\fI/usr/share/edgeboot/templates/\\fR.',
  '.TP',
  '.I /var/lib/edgeboot/boot/',
  'Boot root: boot images and extra loaders. Debian\'s ipxe, pxelinux, shim\\-signed and grub packages are served',
  'from their own install paths.',
  '.TP',
  '.I /var/lib/edgeboot/url\\-signing.key',
  'Key that signs answer\\-file URLs (mode 0600, owner edgeboot); kept on upgrade, removed on purge.',
  '.TP',
  '.I /var/lib/edgeboot/lease\\-hook.secret',
  'Shared secret of the DHCP lease hook (mode 0640, group edgeboot: add the DHCP server\'s user to that group).',
  '.TP',
  '.I /run/edgeboot/lease.sock',
  'Socket the DHCP lease hook reports to.',
);
out.push(
  '.SH LOGGING',
  'The daemon writes one JSON line per event to standard output; under systemd it lands in the journal.',
  'For a readable view:',
  '.PP',
  '.nf',
  'journalctl \\-u edgeboot \\-o cat | npx pino\\-pretty',
  '.fi',
);
out.push(
  '.SH EXAMPLES',
  '.nf',
  'edgeboot check',
  'systemctl reload edgeboot',
  'edgeboot render \\-\\-mac 52:54:00:12:34:56 \\-\\-kind ipxe \\-\\-explain',
  'edgeboot dhcp\\-config \\-\\-server dnsmasq \\-\\-interface eth1',
  '.fi',
);
out.push('.SH SEE ALSO', '.BR systemctl (1),', '.BR journalctl (1),', '.BR dnsmasq (8)');
process.stdout.write(`${out.join('\n')}\n`);
