import type { ClusterConfig } from '../core/node.js';

/** Where an installer calls back to the region, or the one sentence saying why it cannot. */
export type Callback =
  | { ok: true; metadataUrl: string; signalOk: string; signalFailed: string; status: string }
  | { ok: false; missing: string; why: string };

const ABSOLUTE = /^https?:\/\/[^/\s]+/;

/**
 * The callback URLs of a node's answer files, built only from an absolute `config.metadata_url` and a token:
 * a relative URL (`latest/?op=signal…`) could never be reached by the installer, so it is never rendered.
 */
export function callbackFor(config: ClusterConfig, systemId: string, hasToken: boolean): Callback {
  const raw = config.metadataUrl.trim();
  if (!raw) {
    return { ok: false, missing: 'config.metadata_url', why: 'config.metadata_url is empty, so the installer has no region to call back' };
  }
  if (!ABSOLUTE.test(raw)) {
    return { ok: false, missing: 'config.metadata_url', why: 'config.metadata_url is not an absolute http(s) URL' };
  }
  if (!hasToken || !systemId) {
    return { ok: false, missing: 'nodes[].token', why: 'this machine has no node token in the region data, so it cannot authenticate a callback' };
  }
  const base = raw.endsWith('/') ? raw : `${raw}/`;
  return {
    ok: true,
    metadataUrl: base,
    signalOk: `${base}latest/?op=signal&status=OK`,
    signalFailed: `${base}latest/?op=signal&status=FAILED`,
    status: `${base}status/${systemId}`,
  };
}
