import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../../../src/core/metrics.js';
import { encodeRequest } from '../../../src/tftp/packet.js';
import { TftpService } from '../../../src/tftp/server.js';
import { type Harness, RawClient, startHarness } from '../../support/tftp-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('one listener per local address', () => {
  it('addresses that appear get a listener and addresses that vanish lose theirs, on refresh', async () => {
    let wanted = ['127.0.0.1'];
    h = await startHarness({ tftp: { addresses: () => wanted, pollMs: 50 } });
    expect(h.tftp.endpoints().map((e) => e.address)).toEqual(['127.0.0.1']);
    wanted = ['127.0.0.1', '127.0.0.2'];
    await h.tftp.reload();
    expect(h.tftp.endpoints().map((e) => e.address).sort()).toEqual(['127.0.0.1', '127.0.0.2']);
    wanted = ['127.0.0.2'];
    await new Promise((r) => setTimeout(r, 300));
    expect(h.tftp.endpoints().map((e) => e.address)).toEqual(['127.0.0.2']);
  });

  it('a request to the second address is answered from that address', async () => {
    h = await startHarness({ tftp: { addresses: ['127.0.0.1', '127.0.0.2'] } });
    const ep = h.tftp.endpoints().find((e) => e.address === '127.0.0.2')!;
    const c = await RawClient.open();
    const from = new Promise<string>((resolve) => c.socket.once('message', (_m, rinfo) => resolve(rinfo.address)));
    c.socket.send(encodeRequest('rrq', 'boot.ipxe', 'octet'), ep.port, '127.0.0.2');
    expect(await from).toBe('127.0.0.2');
    c.close();
  });

  it('a rendered file names the address the client asked', async () => {
    h = await startHarness({ tftp: { addresses: ['127.0.0.1', '127.0.0.2'] } });
    const ep = h.tftp.endpoints().find((e) => e.address === '127.0.0.2')!;
    const c = await RawClient.open();
    c.socket.send(encodeRequest('rrq', 'boot.ipxe', 'octet'), ep.port, '127.0.0.2');
    const first = await c.next();
    expect(first.packet?.op === 'data' && first.packet.data.toString('utf8')).toContain('127.0.0.2');
    c.close();
  });

  it('start fails with E_CONFIG when no address can be bound', async () => {
    const blocker = await RawClient.open();
    const t = new TftpService({
      boot: {} as never,
      bootRoot: '/nonexistent',
      loaderDirs: [],
      log: pino({ level: 'silent' }),
      metrics: new MetricsRegistry(),
      port: blocker.port,
      addresses: ['127.0.0.1'],
      maxTransfers: 1,
      maxPerClient: 1,
      maxBlksize: 512,
      maxWindowsize: 1,
      retries: 1,
      cacheBytes: 0,
    });
    await expect(t.start()).rejects.toMatchObject({ code: 'E_CONFIG' });
    await t.stop(0);
    blocker.close();
  });
});
