import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyEnv, loadConfig, parseConfig } from '../../../src/config/config.js';
import { EdgebootError } from '../../../src/core/errors.js';

function errorOf(fn: () => unknown): EdgebootError {
  try {
    fn();
  } catch (err) {
    return err as EdgebootError;
  }
  throw new Error('expected an error');
}

describe('config', () => {
  const minimal = { inventory: 'inv.yaml', boot_root: '/srv/boot' };

  it('fills defaults for the fixed keys', () => {
    const c = parseConfig(minimal, '/etc/edgeboot/edgeboot.yaml');
    expect(c.http.port).toBe(5248);
    expect(c.tftp.port).toBe(69);
    expect(c.server_address).toBe('auto');
    expect(c.template_dirs).toEqual([]);
  });

  it('resolves relative paths against the config file', () => {
    const c = parseConfig(minimal, '/etc/edgeboot/edgeboot.yaml');
    expect(c.inventory).toBe('/etc/edgeboot/inv.yaml');
  });

  it('reports every error at once, each with its path', () => {
    const err = errorOf(() =>
      parseConfig({ boot_root: 5, http: { port: 'x' }, tftp: { port: 70000 }, server_address: 'somewhere', bogus: 1 }, 'test.yaml'),
    );
    expect(err.code).toBe('E_CONFIG');
    for (const path of ['inventory', 'boot_root', 'http.port', 'tftp.port', 'server_address']) {
      expect(err.message).toContain(`${path}:`);
    }
    expect(err.message).toMatch(/bogus/);
  });

  it('is frozen', () => {
    const c = parseConfig(minimal, 'x.yaml');
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.http)).toBe(true);
  });

  it('EDGEBOOT_* variables override keys, nested ones included', () => {
    const doc: Record<string, unknown> = { ...minimal };
    applyEnv(doc, { EDGEBOOT_HTTP_PORT: '8080', EDGEBOOT_BOOT_ROOT: '/x', EDGEBOOT_TEMPLATE_DIRS: '[/a, /b]' });
    const c = parseConfig(doc, '/etc/e.yaml');
    expect(c.http.port).toBe(8080);
    expect(c.boot_root).toBe('/x');
    expect(c.template_dirs).toEqual(['/a', '/b']);
  });

  it('an env override with a bad value is reported with its path', () => {
    const doc: Record<string, unknown> = { ...minimal };
    applyEnv(doc, { EDGEBOOT_TFTP_PORT: 'sixty-nine' });
    expect(errorOf(() => parseConfig(doc, 'e.yaml')).message).toContain('tftp.port:');
  });

  it('a missing file is one clear E_CONFIG error', () => {
    const err = errorOf(() => loadConfig('/nonexistent/edgeboot.yaml', {}));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toContain('/nonexistent/edgeboot.yaml');
  });

  it('invalid YAML is one clear E_CONFIG error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeboot-cfg-'));
    const file = join(dir, 'e.yaml');
    writeFileSync(file, 'inventory: [unclosed\n');
    expect(errorOf(() => loadConfig(file, {})).message).toContain('not valid YAML');
  });
});
