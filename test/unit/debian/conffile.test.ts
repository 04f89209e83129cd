import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../../src/config/config.js';

// The Debian conffile (/etc/edgeboot/edgeboot.yaml) must stay valid as the config schema evolves.
const CONFFILE = join(import.meta.dirname, '../../../debian/edgeboot.yaml');
const PATH = '/etc/edgeboot/edgeboot.yaml';
const text = readFileSync(CONFFILE, 'utf8');

/** The conffile with every commented-out setting (`# key: value`, `#   - item`) switched on. */
function uncommented(yaml: string): string {
  return yaml
    .split('\n')
    .map((line) => line.replace(/^(\s*)# ?(\s*(?:- |[a-z_0-9]+:(?:\s|$)).*)$/, '$1$2'))
    .join('\n');
}

describe('Debian conffile', () => {
  it('parses with the packaged paths', () => {
    const c = parseConfig(parseYaml(text), PATH);
    expect({
      inventory: c.inventory,
      boot_root: c.boot_root,
      template_dirs: c.template_dirs,
      key_file: c.answers.key_file,
      tftp: c.tftp.port,
      http: c.http.port,
    }).toEqual({
      inventory: '/etc/edgeboot/inventory.d',
      boot_root: '/var/lib/edgeboot/boot',
      template_dirs: ['/etc/edgeboot/templates'],
      key_file: '/var/lib/edgeboot/url-signing.key',
      tftp: 69,
      http: 5248,
    });
  });

  it('documents only settings the schema accepts (every commented setting switched on still parses)', () => {
    const on = uncommented(text);
    expect(on).toContain('\nregion:\n');
    expect(() => parseConfig(parseYaml(on), PATH)).not.toThrow();
  });

  it('documents the defaults the schema applies', () => {
    const on = parseConfig(parseYaml(uncommented(text)), PATH);
    const off = parseConfig({ inventory: '/etc/edgeboot/inventory.d', boot_root: '/var/lib/edgeboot/boot' }, PATH);
    expect({ tftp: on.tftp, http: on.http, dhcp: { ...on.dhcp, arm64_loader: undefined }, images: on.images }).toEqual({
      tftp: off.tftp,
      http: off.http,
      dhcp: { ...off.dhcp, lease_secret_file: '/var/lib/edgeboot/lease-hook.secret', lease_hook: '/usr/lib/edgeboot/dist/src/dhcp-hooks/lease-hook.js' },
      images: off.images,
    });
  });
});
