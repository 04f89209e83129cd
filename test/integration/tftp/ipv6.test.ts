import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLinkLocal6 } from '../../../src/core/ip.js';
import { listAddresses } from '../../../src/net/interfaces.js';
import { localAddresses } from '../../../src/tftp/listeners.js';
import { type Harness, NODE_MAC, run, startHarness } from '../../support/tftp-harness.js';

// TFTP over IPv6 with real clients: the listener on ::1, replies from the address asked, byte-exact files,
// and a rendered file naming the server by its bracketed address.

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ tftp: { addresses: ['::1', '127.0.0.1'] } });
});

afterAll(async () => {
  await h?.close();
});

const port = () => h.tftp.endpoints().find((e) => e.address === '::1')!.port;

const CLIENTS6: Record<string, (remote: string, local: string) => [string, string[]]> = {
  'tftp-hpa': (remote, local) => ['tftp', ['-6', '-m', 'binary', '::1', String(port()), '-c', 'get', remote, local]],
  atftp: (remote, local) => ['atftp', ['--option', 'blksize 1428', '--option', 'windowsize 8', '-g', '-r', remote, '-l', local, '::1', String(port())]],
  curl: (remote, local) => ['curl', ['-sS', '--fail', '-g', '-o', local, `tftp://[::1]:${port()}/${remote}`]],
};

describe.each(Object.keys(CLIENTS6))('%s over IPv6', (client) => {
  it('downloads a 1 MiB file byte-exact from ::1', async () => {
    const local = join(h.dir, `v6-${client}`);
    const [cmd, args] = CLIENTS6[client]!('one-m.bin', local);
    const r = await run(cmd, args, { timeoutMs: 60_000 });
    expect(r.code, `${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`).toBe(0);
    expect(readFileSync(local).equals(h.files['one-m.bin']!)).toBe(true);
  });
});

describe('the transfer log on IPv6', () => {
  it('names the peer as [address]:port', async () => {
    const local = join(h.dir, 'v6-log');
    const r = await run('curl', ['-sS', '--fail', '-g', '-o', local, `tftp://[::1]:${port()}/one-k.bin`], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const line = h.logLines.findLast((l) => l.file === 'one-k.bin' && typeof l.peer === 'string');
    expect(line?.peer).toMatch(/^\[::1\]:\d+$/);
  });
});

describe('rendered files over IPv6', () => {
  it('pxelinux.cfg/01-<mac> asked on ::1 names the server as [::1]', async () => {
    const local = join(h.dir, 'v6-pxelinux');
    const r = await run('curl', ['-sS', '--fail', '-g', '-o', local, `tftp://[::1]:${port()}/pxelinux.cfg/01-${NODE_MAC.replace(/:/g, '-')}`], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(local, 'utf8');
    expect(text).toContain('http://[::1]:');
    expect(text).not.toMatch(/http:\/\/::1:/);
  });
});

describe('default listen addresses', () => {
  it('are every IPv4 and every non-link-local IPv6 address of the host', () => {
    const all = listAddresses();
    const want = all.filter((a) => a.family === 'IPv4' || !isLinkLocal6(a.address)).map((a) => a.address);
    expect(localAddresses()).toEqual(want);
    expect(localAddresses()).toContain('::1');
    expect(localAddresses().some((a) => isLinkLocal6(a))).toBe(false);
  });
});
