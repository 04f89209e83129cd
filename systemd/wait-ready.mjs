#!/usr/bin/env node
// Readiness check for edgeboot.service (ExecStartPost): wait until edgeboot's HTTP listener answers.
// Installed as /usr/lib/edgeboot/wait-ready.mjs; reads the same config (and EDGEBOOT_* overrides) as
// the daemon, so the port and listen address always match. Any HTTP status counts: /healthz says 503
// until the first snapshot is in, and that wait is the daemon's business, not a start failure.
import { request } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: '/etc/edgeboot/edgeboot.yaml' },
    timeout: { type: 'string', default: '60' },
  },
});
const { loadConfig } = await import(new URL('./dist/src/config/config.js', import.meta.url).href);
const config = loadConfig(values.config);
const listen = config.http.listen;
// "::" takes IPv4 too (and falls back to 0.0.0.0 without IPv6), so 127.0.0.1 answers in both cases.
const host = listen === '0.0.0.0' || listen === '::' ? '127.0.0.1' : listen;
const deadline = Date.now() + Number(values.timeout) * 1000;

function probe() {
  return new Promise((resolve) => {
    const req = request({ host, port: config.http.port, path: '/healthz', timeout: 2000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

while (!(await probe())) {
  if (Date.now() > deadline) {
    process.stderr.write(`edgeboot did not answer on http://${host}:${config.http.port}/healthz within ${values.timeout} s\n`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 200));
}
