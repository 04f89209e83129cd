import { afterEach, describe, expect, it } from 'vitest';
import { encodeAck, encodeError, encodeRequest } from '../../../src/tftp/packet.js';
import { type Harness, RawClient, startHarness } from '../../support/tftp-harness.js';

let h: Harness | undefined;
const clients: RawClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await h?.close();
  h = undefined;
});

async function begin(address: string, file = 'one-m.bin') {
  const c = await RawClient.open(address);
  clients.push(c);
  c.send(encodeRequest('rrq', file, 'octet'), h!.port);
  return { c, first: await c.next() };
}

describe('limits answer with ERROR, never a silent drop', () => {
  it('past the per-client cap a client gets error 0', async () => {
    h = await startHarness({ tftp: { maxPerClient: 2, maxTransfers: 10 } });
    expect((await begin('127.0.0.1')).first.packet).toMatchObject({ op: 'data', block: 1 });
    expect((await begin('127.0.0.1')).first.packet).toMatchObject({ op: 'data', block: 1 });
    expect((await begin('127.0.0.1')).first.packet).toMatchObject({ op: 'error', code: 0, message: expect.stringMatching(/too many/) });
  });

  it('another client is still served when one client is at its cap', async () => {
    h = await startHarness({ tftp: { maxPerClient: 1, maxTransfers: 10 } });
    await begin('127.0.0.1');
    expect((await begin('127.0.0.2')).first.packet).toMatchObject({ op: 'data', block: 1 });
  });

  it('past max_transfers every new request gets error 0 "busy"', async () => {
    h = await startHarness({ tftp: { maxPerClient: 2, maxTransfers: 3 } });
    await begin('127.0.0.1');
    await begin('127.0.0.1');
    await begin('127.0.0.2');
    expect((await begin('127.0.0.3')).first.packet).toMatchObject({ op: 'error', code: 0, message: expect.stringMatching(/busy/) });
  });

  it('a finished transfer frees its slot', async () => {
    h = await startHarness({ tftp: { maxPerClient: 1, maxTransfers: 10 } });
    const { c, first } = await begin('127.0.0.1', 'one-k.bin');
    c.send(encodeAck(1), first.port);
    await c.next();
    c.send(encodeAck(2), first.port);
    c.send(encodeAck(3), first.port);
    await new Promise((r) => setTimeout(r, 50));
    expect((await begin('127.0.0.1')).first.packet).toMatchObject({ op: 'data', block: 1 });
  });
});

describe('graceful stop', () => {
  it('a running transfer finishes while no new one is accepted', async () => {
    h = await startHarness();
    const { c, first } = await begin('127.0.0.1', 'one-k.bin');
    const stopped = h.tftp.stop(10_000);
    const late = await RawClient.open();
    clients.push(late);
    late.send(encodeRequest('rrq', 'one-k.bin', 'octet'), h.port);
    c.send(encodeAck(1), first.port);
    expect((await c.next()).packet).toMatchObject({ op: 'data', block: 2 });
    c.send(encodeAck(2), first.port);
    expect((await c.next()).packet).toMatchObject({ op: 'data', block: 3 });
    c.send(encodeAck(3), first.port);
    const t0 = Date.now();
    await stopped;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(late.inbox.filter((m) => m.packet?.op === 'data')).toEqual([]);
    expect(await h.metrics.expose()).toMatch(/edgeboot_tftp_transfers_total\{outcome="ok"\} 1/);
  });

  it('a transfer still running after the grace period is ended with error 0', async () => {
    h = await startHarness();
    const { c } = await begin('127.0.0.1');
    await h.tftp.stop(300);
    const msgs = await c.drain(200);
    expect(msgs.some((m) => m.packet?.op === 'error' && m.packet.code === 0)).toBe(true);
    c.send(encodeError(0, 'bye'), msgs[0]?.port ?? h.port);
  });
});
