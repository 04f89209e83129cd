import { describe, expect, it } from 'vitest';
import type { Node } from '../../../src/core/node.js';
import { Secret } from '../../../src/core/secret.js';
import { nodeOfToken, parseOAuthPlaintext, readReport, readSignal, transitionFor } from '../../../src/region-server/install-signal.js';

const node = (status: string, i = 1): Node => ({
  systemId: `n${i}`,
  hostname: `node${i}`,
  macs: [],
  arch: 'amd64',
  subarch: 'generic',
  status,
  osystem: 'debian',
  release: 'trixie',
  kernelOpts: '',
  token: { consumerKey: new Secret(`ck${i}`), tokenKey: new Secret(`tk${i}`), tokenSecret: new Secret(`ts${i}`) },
});

describe('install signal: OAuth PLAINTEXT header', () => {
  it("reads d-i's curl header and cloud-init's percent-encoded one alike", () => {
    const plain = 'OAuth oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="ck1", oauth_token="tk1", oauth_signature="&ts1"';
    const encoded = 'OAuth oauth_nonce="123", oauth_timestamp="1700000000", oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="ck1", oauth_token="tk1", oauth_signature="%26ts1"';
    for (const h of [plain, encoded]) expect(parseOAuthPlaintext(h)).toEqual({ consumerKey: 'ck1', tokenKey: 'tk1', tokenSecret: 'ts1' });
  });

  it('refuses other schemes, other signature methods, a missing part and bad encoding', () => {
    for (const h of [
      undefined,
      'Bearer abc',
      'OAuth oauth_signature_method="HMAC-SHA1", oauth_consumer_key="ck1", oauth_token="tk1", oauth_signature="&ts1"',
      'OAuth oauth_consumer_key="ck1", oauth_signature="&ts1"',
      'OAuth oauth_consumer_key="ck1", oauth_token="tk1", oauth_signature="ts1"',
      'OAuth oauth_consumer_key="ck1", oauth_token="tk1", oauth_signature="&"',
      'OAuth oauth_consumer_key="ck1", oauth_token="tk1", oauth_signature="%E0%A4%A"',
    ]) {
      expect(parseOAuthPlaintext(h), String(h)).toBeUndefined();
    }
  });

  it('finds the node only when all three parts are its own', () => {
    const nodes = [node('deploying', 1), node('deploying', 2)];
    expect(nodeOfToken(nodes, { consumerKey: 'ck2', tokenKey: 'tk2', tokenSecret: 'ts2' })?.systemId).toBe('n2');
    expect(nodeOfToken(nodes, { consumerKey: 'ck1', tokenKey: 'tk1', tokenSecret: 'ts2' })).toBeUndefined();
    expect(nodeOfToken(nodes, { consumerKey: 'ck2', tokenKey: 'tk1', tokenSecret: 'ts1' })).toBeUndefined();
  });
});

describe('install signal: what it does to a node', () => {
  it('OK deploys, FAILED fails the deployment with the reason, WORKING changes nothing', () => {
    expect(transitionFor(node('deploying'), readSignal({ op: 'signal', status: 'OK' }, undefined)).to).toBe('deployed');
    const failed = transitionFor(node('deploying'), readSignal({ op: 'signal', status: 'FAILED' }, { error: 'no disk\nfound' }));
    expect(failed).toMatchObject({ to: 'failed_deployment', reason: 'installation failed: no disk found' });
    expect(transitionFor(node('deploying'), readSignal({ op: 'signal', status: 'WORKING' }, undefined)).to).toBeUndefined();
  });

  it('a repeat is idempotent and a node that is not deploying is refused', () => {
    expect(transitionFor(node('deployed'), readSignal({ op: 'signal', status: 'OK' }, undefined))).toEqual({ note: 'already deployed' });
    expect(() => transitionFor(node('commissioning'), readSignal({ op: 'signal', status: 'OK' }, undefined))).toThrow(/is commissioning, not deploying/);
  });

  it("cloud-init's final stage deploys, a failed finish fails, other reports are noted", () => {
    const report = (o: Record<string, unknown>) => readReport({ origin: 'cloudinit', event_type: 'finish', ...o });
    expect(transitionFor(node('deploying'), report({ name: 'modules-final', result: 'SUCCESS' })).to).toBe('deployed');
    expect(transitionFor(node('deploying'), report({ name: 'init-network', result: 'FAIL', description: 'boom' })).to).toBe('failed_deployment');
    expect(transitionFor(node('deploying'), report({ name: 'init-network', result: 'SUCCESS' })).to).toBeUndefined();
    expect(transitionFor(node('commissioning'), report({ name: 'modules-final', result: 'SUCCESS' })).to).toBeUndefined();
  });

  it('refuses an unknown op or status and a report without name/event_type', () => {
    expect(() => readSignal({ op: 'other', status: 'OK' }, undefined)).toThrow(/op=signal/);
    expect(() => readSignal({ op: 'signal', status: 'MAYBE' }, undefined)).toThrow(/OK, FAILED or WORKING/);
    expect(() => readReport({ origin: 'cloudinit' })).toThrow(/name/);
    expect(() => readReport(undefined)).toThrow(/name/);
  });
});
