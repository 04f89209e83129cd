import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { EdgebootError } from '../../../src/core/errors.js';
import { parseMac } from '../../../src/core/mac.js';
import type { Node } from '../../../src/core/node.js';
import { KINDS, type Kind, PURPOSES } from '../../../src/render/kinds.js';
import { shippedStore, testRenderer, testSnapshot } from '../../support/renderer.js';

const server = { address: '10.9.0.1', httpPort: 5248 };
const mac = parseMac('52:54:00:00:00:01');

function render(node: Node | undefined, kind: Kind = 'ipxe', snapshot = testSnapshot()) {
  return testRenderer(snapshot).render({ kind, node, mac, server, clientIp: '10.9.0.50' });
}

function causeCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof EdgebootError ? cause.code : (err as EdgebootError).code;
  }
  return undefined;
}

describe('shipped templates', () => {
  const store = shippedStore();
  for (const kind of ['ipxe', 'pxelinux', 'grub'] as const) {
    for (const purpose of PURPOSES) {
      it(`${kind} serves purpose ${purpose}`, () => {
        expect(store.resolve(kind, [purpose, 'generic']).chosen?.name).toBe(purpose);
      });
    }
  }
  for (const kind of KINDS) {
    it(`${kind} has a generic or purpose template for every distro/arch`, () => {
      for (const os of ['debian', 'ubuntu']) {
        for (const arch of ['amd64', 'arm64']) {
          for (const purpose of ['enlist', 'commission', 'install', 'rescue']) {
            const names = [`${purpose}_${os}_${arch}`, `${purpose}_${os}`, purpose, 'generic'];
            expect(store.resolve(kind, names).chosen, `${kind} ${purpose} ${os} ${arch}`).toBeDefined();
          }
        }
      }
    });
  }
});

describe('rendering', () => {
  it('an install script carries the signed preseed URL and the node kernel_opts', () => {
    const snap = testSnapshot();
    const out = render(snap.nodes[0], 'ipxe', snap);
    expect(out.decision.purpose).toBe('install');
    expect(out.text).toMatch(/url=http:\/\/10\.9\.0\.1:5248\/answers\/52-54-00-00-00-01\/[^ ]+\/preseed/);
    expect(out.text).toContain('console=ttyS0');
    expect(out.text).toContain('http://10.9.0.1:5248/images/debian/amd64/generic/trixie/stable/kernel');
  });

  it('an ubuntu install puts the cloud-init seed on the command line', () => {
    const snap = testSnapshot({ osystem: 'ubuntu', release: 'noble' });
    const out = render(snap.nodes[0], 'ipxe', snap);
    expect(out.text).toMatch(/ds=nocloud-net;s=http:\/\/10\.9\.0\.1:5248\/answers\/52-54-00-00-00-01\/[^ ]+\/ /);
  });

  it('the answer file reveals the token of its own node', () => {
    const snap = testSnapshot();
    const out = render(snap.nodes[0], 'preseed', snap);
    expect(out.text).toContain('tk-secret-1');
    expect(out.text).toContain('node01');
  });

  it('a boot script never contains the token', () => {
    const snap = testSnapshot({ status: 'commissioning' });
    for (const kind of ['ipxe', 'pxelinux', 'grub'] as const) {
      expect(render(snap.nodes[0], kind, snap).text).not.toContain('secret');
    }
  });

  it('an unknown MAC gets the enlistment boot', () => {
    expect(render(undefined).decision.purpose).toBe('enlist');
  });

  it('a broken node gets a script that prints its state and reason', () => {
    const snap = testSnapshot({ status: 'broken', status_reason: 'fan failure on PSU 2' });
    const out = render(snap.nodes[0], 'ipxe', snap);
    expect(out.text).toContain('state: broken');
    expect(out.text).toContain('fan failure on PSU 2');
    expect(out.text).not.toMatch(/^kernel /m);
  });

  it('a new node waits and never gets a kernel', () => {
    const snap = testSnapshot({ status: 'new' });
    const out = render(snap.nodes[0], 'ipxe', snap);
    expect(out.text).toContain('awaiting approval');
    expect(out.text).not.toMatch(/^kernel /m);
  });

  it('a deployed node boots from local disk', () => {
    const snap = testSnapshot({ status: 'deployed' });
    expect(render(snap.nodes[0], 'pxelinux', snap).text).toContain('LOCALBOOT 0');
  });
});

describe('injection', () => {
  function nodeWith(patch: Partial<Node>): Node {
    return { ...testSnapshot().nodes[0]!, ...patch };
  }

  it('rejects a hostname with a newline (it would add an iPXE command)', () => {
    expect(causeCode(() => render(nodeWith({ hostname: 'evil\nshell' })))).toBe('E_UNSAFE_VALUE');
  });

  it('rejects a carriage return in kernel_opts', () => {
    expect(causeCode(() => render(nodeWith({ kernelOpts: 'quiet\rinitrd http://evil/x' })))).toBe('E_UNSAFE_VALUE');
  });

  it('rejects NUL in the hostname', () => {
    expect(causeCode(() => render(nodeWith({ hostname: 'node\0x' }), 'pxelinux'))).toBe('E_UNSAFE_VALUE');
  });

  it('rejects iPXE ${ expansion in kernel_opts', () => {
    expect(causeCode(() => render(nodeWith({ kernelOpts: 'x=${root-path}' })))).toBe('E_UNSAFE_VALUE');
  });

  it('rejects a quote in GRUB output', () => {
    expect(causeCode(() => render(nodeWith({ kernelOpts: "x' ; insmod evil ; echo '" }), 'grub'))).toBe('E_UNSAFE_VALUE');
  });

  it('JSON-encodes values in YAML answer files so a newline cannot add a key', () => {
    const out = render(nodeWith({ hostname: 'x\nruncmd: [evil]' }), 'meta-data');
    const doc = parseYaml(out.text) as Record<string, unknown>;
    expect(Object.keys(doc).sort()).toEqual(['instance-id', 'local-hostname']);
    expect(doc['local-hostname']).toBe('x\nruncmd: [evil]');
  });

  it('names the template, never the value, when it refuses', () => {
    let msg = '';
    try {
      render(nodeWith({ hostname: 'tk-secret-1\n' }));
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toContain('install.eta');
    expect(msg).not.toContain('tk-secret-1');
  });

  it('the region snapshot refuses the same values before they reach a template', () => {
    expect(() => testSnapshot({ hostname: 'evil\nshell' })).toThrow(/nodes\[0\]\.hostname/);
    expect(() => testSnapshot({ kernel_opts: 'a\nb' })).toThrow(/nodes\[0\]\.kernel_opts/);
  });

  it('reduces a hostile status reason to inert text instead of failing the error script', () => {
    const snap = testSnapshot({ status: 'failed', status_reason: 'x || shell ${net0/ip} #' });
    const out = render(snap.nodes[0], 'ipxe', snap);
    expect(out.text).not.toContain('||  shell');
    expect(out.text).not.toContain('${net0/ip}');
  });
});
