import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { createLogger } from '../../../src/core/log.js';
import { startAppliance } from '../../../src/main.js';
import { LogSink, writeApplianceDir } from '../../support/appliance.js';
import { freePort } from '../../support/processes.js';

describe('the appliance starts whole or not at all', () => {
  it('a service that cannot start (TFTP port taken) fails startAppliance and releases the HTTP port', async () => {
    const taken = createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '0.0.0.0', () => r()));
    const tftpPort = taken.address().port;
    const httpPort = await freePort();
    const d = writeApplianceDir('edgeboot-start-', { nodes: [] }, { http: { port: httpPort, listen: '127.0.0.1' }, tftp: { enabled: true, port: tftpPort } });
    try {
      const config = loadConfig(d.configPath, {});
      await expect(startAppliance(config, createLogger('silent', new LogSink()))).rejects.toThrow();
      // HTTP was listening before TFTP failed; the same port binds again, so it was closed.
      await new Promise<void>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(httpPort, '127.0.0.1', () => s.close(() => resolve()));
      });
    } finally {
      taken.close();
      rmSync(d.dir, { recursive: true, force: true });
    }
  });
});
