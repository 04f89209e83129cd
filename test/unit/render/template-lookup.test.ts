import { describe, expect, it } from 'vitest';
import { templateCandidates } from '../../../src/render/template-lookup.js';
import { TemplateStore } from '../../../src/render/template-store.js';

describe('templateCandidates (MAAS order)', () => {
  it('lists the full chain for a known node, most specific first', () => {
    expect(
      templateCandidates({ purpose: 'install', osystem: 'ubuntu', arch: 'amd64', subarch: 'generic', release: 'noble', hostname: 'node01' }),
    ).toEqual([
      'install_ubuntu_amd64_generic_noble_node01',
      'install_ubuntu_amd64_generic_noble',
      'install_ubuntu_amd64_generic',
      'install_ubuntu_amd64',
      'install_ubuntu',
      'install',
      'generic',
    ]);
  });

  it('stops at the last complete prefix when a field is missing', () => {
    expect(templateCandidates({ purpose: 'commission', osystem: 'debian', arch: 'arm64', subarch: 'generic', release: '' })).toEqual([
      'commission_debian_arm64_generic',
      'commission_debian_arm64',
      'commission_debian',
      'commission',
      'generic',
    ]);
  });

  it('gives an unknown machine purpose then generic', () => {
    expect(templateCandidates({ purpose: 'enlist' })).toEqual(['enlist', 'generic']);
  });
});

describe('TemplateStore resolution', () => {
  const candidates = ['install_ubuntu_amd64', 'install_ubuntu', 'install', 'generic'];

  it('picks the most specific name within a layer', () => {
    const s = new TemplateStore(['shipped']);
    s.put(0, 'ipxe', 'install', 'a', 'shipped/install');
    s.put(0, 'ipxe', 'install_ubuntu', 'b', 'shipped/install_ubuntu');
    expect(s.resolve('ipxe', candidates).chosen?.name).toBe('install_ubuntu');
  });

  it('searches override directories before the shipped templates', () => {
    const s = new TemplateStore(['override', 'shipped']);
    s.put(0, 'ipxe', 'install', 'override', 'override/install');
    s.put(1, 'ipxe', 'install_ubuntu', 'shipped', 'shipped/install_ubuntu');
    const r = s.resolve('ipxe', candidates);
    expect(r.chosen?.origin).toBe('override/install');
    expect(r.tried.map((t) => `${t.layer}:${t.name}`)).toEqual(['override:install_ubuntu_amd64', 'override:install_ubuntu', 'override:install']);
  });

  it('falls back to generic', () => {
    const s = new TemplateStore(['shipped']);
    s.put(0, 'ipxe', 'generic', 'g', 'shipped/generic');
    expect(s.resolve('ipxe', candidates).chosen?.name).toBe('generic');
  });

  it('keeps templates of different kinds apart', () => {
    const s = new TemplateStore(['shipped']);
    s.put(0, 'grub', 'install', 'g', 'shipped/grub/install');
    expect(s.resolve('ipxe', candidates).chosen).toBeUndefined();
  });

  it('keeps the last good compile when an edit does not compile', () => {
    const s = new TemplateStore(['shipped']);
    expect(s.put(0, 'ipxe', 'install', 'good <%= it.x %>', 'shipped/install')).toBeUndefined();
    const err = s.put(0, 'ipxe', 'install', 'bad <%= it.x ', 'shipped/install');
    expect(err?.code).toBe('E_TEMPLATE_COMPILE');
    expect(err?.message).toContain('shipped/install');
    const chosen = s.resolve('ipxe', ['install']).chosen!;
    expect(s.run(chosen, { x: 'ok' })).toBe('good ok');
    expect(s.errors()).toHaveLength(1);
  });

  it('clears the error once the template compiles again', () => {
    const s = new TemplateStore(['shipped']);
    s.put(0, 'ipxe', 'install', 'bad <%= it.x ', 'shipped/install');
    s.put(0, 'ipxe', 'install', 'fixed', 'shipped/install');
    expect(s.errors()).toEqual([]);
  });
});
