import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENTS, type ClientName, type Harness, NODE_MAC, run, startHarness } from '../../support/tftp-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ big: true });
});

afterAll(async () => {
  await h?.close();
});

async function fetchWith(client: ClientName, remote: string): Promise<Buffer> {
  const local = join(h.dir, `out-${client}-${remote.replace(/\W/g, '_')}`);
  const [cmd, args] = CLIENTS[client](h.port, remote, local);
  const r = await run(cmd, args, { timeoutMs: 120_000 });
  expect(r.code, `${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`).toBe(0);
  return readFileSync(local);
}

const MAC_FILE = `pxelinux.cfg/01-${NODE_MAC.replace(/:/g, '-')}`;

describe.each(Object.keys(CLIENTS) as ClientName[])('%s downloads byte-exact', (client) => {
  it('a 1 KiB file', async () => {
    expect((await fetchWith(client, 'one-k.bin')).equals(h.files['one-k.bin']!)).toBe(true);
  });

  it('a 1 MiB file', async () => {
    expect((await fetchWith(client, 'one-m.bin')).equals(h.files['one-m.bin']!)).toBe(true);
  });

  it('a 64 MiB file (block numbers roll over past 65535 at blksize 512)', async () => {
    expect((await fetchWith(client, 'sixty-four-m.bin')).equals(h.files['sixty-four-m.bin']!)).toBe(true);
  });

  it('a rendered pxelinux.cfg/01-<mac> that names the address it was asked on', async () => {
    const text = (await fetchWith(client, MAC_FILE)).toString('utf8');
    const expected = (await h.core.boot.virtualFile(MAC_FILE, { clientIp: '127.0.0.1', localAddress: '127.0.0.1', via: 'tftp' }))!.text;
    expect(text.replace(/\/answers\/[^ \n]+/g, 'ANSWER')).toBe(expected.replace(/\/answers\/[^ \n]+/g, 'ANSWER'));
    expect(text).toContain('127.0.0.1');
  });
});

describe('windows across the block-number rollover', () => {
  it('atftp with blksize 512 and windowsize 8 gets 64 MiB byte-exact', async () => {
    const local = join(h.dir, 'out-atftp-512-w8');
    const r = await run(
      'atftp',
      ['--option', 'blksize 512', '--option', 'windowsize 8', '-g', '-r', 'sixty-four-m.bin', '-l', local, '127.0.0.1', String(h.port)],
      { timeoutMs: 120_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(local).equals(h.files['sixty-four-m.bin']!)).toBe(true);
  });
});

describe('virtual files', () => {
  it('an unknown MAC gets a rendered pxelinux config (enlist) rather than an error', async () => {
    const text = (await fetchWith('tftp-hpa', 'pxelinux.cfg/01-02-00-00-00-00-99')).toString('utf8');
    expect(text.length).toBeGreaterThan(0);
  });

  it('boot.ipxe is rendered with the address the client asked', async () => {
    expect((await fetchWith('curl', 'boot.ipxe')).toString('utf8')).toContain('127.0.0.1');
  });
});
