import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { EdgebootError } from '../../../src/core/errors.js';
import { parseMac } from '../../../src/core/mac.js';
import type { Node } from '../../../src/core/node.js';
import { KINDS, type Kind, PURPOSES } from '../../../src/render/kinds.js';
import { parseSnapshot } from '../../../src/contract/snapshot-schema.js';
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

  it('config.kernel_opts comes before the node kernel_opts on every purpose, and an unknown MAC gets it too', () => {
    const withCluster = (patch: Record<string, unknown> = {}) => {
      const s = testSnapshot(patch);
      return { ...s, config: { ...s.config, kernelOpts: 'console=ttyS1,115200 loglevel=7' } };
    };
    for (const status of ['deploying', 'commissioning', 'rescue', 'testing']) {
      const snap = withCluster({ status, kernel_opts: 'quiet' });
      for (const kind of ['ipxe', 'pxelinux', 'grub'] as const) {
        // GRUB passes each parameter as its own quoted word; iPXE and PXELINUX one line.
        const text = render(snap.nodes[0], kind, snap).text.replaceAll("' '", ' ');
        expect(text, `${status} ${kind}`).toMatch(/console=ttyS1,115200 loglevel=7 quiet/);
      }
    }
    const snap = withCluster();
    for (const kind of ['ipxe', 'pxelinux', 'grub'] as const) {
      const out = render(undefined, kind, snap);
      expect(out.decision.purpose).toBe('enlist');
      expect(out.text.replaceAll("' '", ' '), kind).toContain('console=ttyS1,115200 loglevel=7');
    }
  });

  it('config.kernel_opts is filtered like every other value', () => {
    expect(() => parseSnapshot({ config: { kernel_opts: 'a\nb' } }, 'test')).toThrow(/config\.kernel_opts/);
    const snap = testSnapshot();
    const hostile = { ...snap, config: { ...snap.config, kernelOpts: 'x=${root-path}' } };
    expect(causeCode(() => render(undefined, 'ipxe', hostile))).toBe('E_UNSAFE_VALUE');
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

describe('callbacks', () => {
  // A URL-valued key or argument whose value is not absolute: the installer could never reach it.
  const relative = (text: string): string[] => {
    const bad: string[] = [];
    for (const m of text.matchAll(/(?:endpoint|metadata_url|url):\s*("[^"]*"|\S*)/g)) if (!/^"?https?:\/\//.test(m[1]!)) bad.push(m[0]);
    for (const m of text.matchAll(/'([^' ]*\?op=signal[^']*)'/g)) if (!/^https?:\/\//.test(m[1]!)) bad.push(m[0]);
    for (const m of text.matchAll(/(?<![\w/:.])(?:latest|status)\/\S*/g)) bad.push(m[0]);
    return bad;
  };
  const statuses = ['deploying', 'commissioning', 'rescue', 'testing'];
  const answerKinds = ['preseed', 'user-data', 'meta-data'] as const;

  it('with an empty metadata_url no render holds a relative URL, and each answer file says which setting is missing', () => {
    for (const os of [{ osystem: 'debian', release: 'trixie' }, { osystem: 'ubuntu', release: 'noble' }]) {
      for (const status of statuses) {
        const s = testSnapshot({ status, ...os });
        const snap = { ...s, config: { ...s.config, metadataUrl: '' } };
        for (const kind of KINDS) {
          const text = render(snap.nodes[0], kind, snap).text;
          expect(relative(text), `${os.osystem} ${status} ${kind}`).toEqual([]);
          expect(text).not.toContain('op=signal');
        }
        const answers = [render(snap.nodes[0], 'preseed', snap).text, render(snap.nodes[0], 'user-data', snap).text].join('\n');
        if (status === 'deploying' || os.osystem === 'debian') expect(answers).toContain('config.metadata_url is empty');
      }
    }
  });

  it('with an absolute metadata_url the preseed signals and user-data reports to absolute URLs', () => {
    const snap = testSnapshot();
    const preseed = render(snap.nodes[0], 'preseed', snap).text;
    expect(preseed).toContain("'http://region:5240/MAAS/metadata/latest/?op=signal&status=OK'");
    const ubuntu = testSnapshot({ osystem: 'ubuntu', release: 'noble' });
    expect(render(ubuntu.nodes[0], 'user-data', ubuntu).text).toContain('"http://region:5240/MAAS/metadata/status/abc123"');
    const commissioning = testSnapshot({ status: 'commissioning' });
    const ud = parseYaml(render(commissioning.nodes[0], 'user-data', commissioning).text) as { reporting: { edgeboot: { endpoint: string } } };
    expect(ud.reporting.edgeboot.endpoint).toBe('http://region:5240/MAAS/metadata/status/abc123');
    for (const kind of answerKinds) expect(relative(render(snap.nodes[0], kind, snap).text), kind).toEqual([]);
  });

  it('a node without a token gets no callback, and the answer file says why', () => {
    const snap = testSnapshot({ token: null });
    const preseed = render(snap.nodes[0], 'preseed', snap).text;
    expect(preseed).not.toContain('late_command');
    expect(preseed).toContain('no node token');
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

  it('rejects a tab in GRUB output (GRUB would not quote it and the kernel would split there)', () => {
    expect(causeCode(() => render(nodeWith({ kernelOpts: 'acpi_osi="a\tb"' }), 'grub'))).toBe('E_UNSAFE_VALUE');
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
