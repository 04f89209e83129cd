/**
 * The iPXE entry script named in DHCP. It chains to the machine's own script, letting iPXE expand
 * the booting interface's MAC, the SMBIOS UUID, the build architecture and the platform.
 * `httpBase` is `http://<address facing the client>:<port>`.
 */
export function renderEntryScript(httpBase: string, retrySeconds: number): string {
  const query = 'uuid=${uuid:uristring}&buildarch=${buildarch:uristring}&platform=${platform:uristring}';
  return [
    '#!ipxe',
    '# edgeboot entry script: chain to this machine\'s own boot script.',
    'isset ${netX/mac} && set edgeboot_mac ${netX/mac:hexhyp} || set edgeboot_mac ${net0/mac:hexhyp}',
    ':edgeboot_retry',
    `chain --autofree ${httpBase}/ipxe/node/\${edgeboot_mac}?${query} || goto edgeboot_failed`,
    'exit',
    ':edgeboot_failed',
    `echo edgeboot: the node script could not be loaded; retrying in ${retrySeconds} seconds`,
    `sleep ${retrySeconds}`,
    'goto edgeboot_retry',
    '',
  ].join('\n');
}

/**
 * GRUB's `grub/grub.cfg`: GRUB knows its own MAC, so hand over to the per-MAC file, the way the
 * iPXE entry script does; `grub.cfg-<mac>` is rendered per node on the wire.
 */
export function renderGrubEntry(): string {
  return [
    '# edgeboot entry config: load this machine\'s own config.',
    'set timeout=0',
    'configfile ${prefix}/grub.cfg-${net_default_mac}',
    '',
  ].join('\n');
}
