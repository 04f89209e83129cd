import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { machinesFor } from '../../support/storm-run.js';
import { TftpErrorReply, tftpGet } from '../../support/tftp-client.js';
import { startTestAppliance, type TestAppliance } from '../../support/appliance.js';
import { deployingNodes, leakedSecrets, secretsIn, tftpPort, writePayloads } from '../../support/drill.js';
import { rawHttp } from '../../support/raw-http.js';

const nodes = deployingNodes(machinesFor(3, '127.95'));
const CANARY = `EDGEBOOT-CANARY-${randomBytes(12).toString('hex')}`;

/** Ways to write "go up one directory" that path handlers have been fooled by. */
const UPS: Array<(n: number) => string> = [
  (n) => '../'.repeat(n),
  (n) => '..%2f'.repeat(n),
  (n) => '%2e%2e/'.repeat(n),
  (n) => '%2e%2e%2f'.repeat(n),
  (n) => '%252e%252e%252f'.repeat(n),
  (n) => '..%5c'.repeat(n),
  (n) => '..\\'.repeat(n),
  (n) => '....//'.repeat(n),
  (n) => '.../'.repeat(n),
  (n) => '%c0%ae%c0%ae/'.repeat(n),
  (n) => '..%c0%af'.repeat(n),
  (n) => '%ef%bc%8e%ef%bc%8e/'.repeat(n),
  (n) => '..;/'.repeat(n),
  (n) => './.././'.repeat(n),
  (n) => '..%00/'.repeat(n),
];

/** At least 200 hostile names aimed at files outside the boot root (the canary, the signing key, the inventory). */
function hostileNames(dir: string): string[] {
  const targets = ['canary.txt', 'key', 'inventory.yaml', 'etc/passwd', 'proc/self/environ'];
  const leads = ['', 'images/', 'pxelinux.cfg/', 'grub/', 'ipxe/node/'];
  const out = new Set<string>();
  UPS.forEach((up, u) => {
    targets.forEach((target, i) => {
      // canary, key and inventory sit one level above boot_root; /etc and /proc are far up.
      const depth = i < 3 ? 1 : 12;
      out.add(`${up(depth)}${target}`);
      out.add(`${leads[(u + i) % leads.length]}${up(depth + 1)}${target}`);
      out.add(`${leads[(u + i + 2) % leads.length]}sub/${up(depth + 2)}${target}`);
    });
  });
  for (const abs of [`${dir}/canary.txt`, `${dir}/key`, '/etc/passwd', '/proc/self/environ', '/proc/self/cmdline', '/proc/self/root/etc/passwd']) {
    out.add(abs);
    out.add(`/${abs}`);
    out.add(`file://${abs}`);
    out.add(`.${abs}`);
  }
  for (const n of [
    'escape',
    'escape-dir/canary.txt',
    'escape-dir/key',
    'escape-dir/./canary.txt',
    'canary.txt%00.kpxe',
    '~root/.ssh/id_rsa',
    'pxelinux.cfg/01-../../canary.txt',
    'pxelinux.cfg/..%2f..%2fcanary.txt',
    'grub/grub.cfg-../../canary.txt',
    'answers/../../canary.txt',
    `${'a/'.repeat(300)}${'../'.repeat(301)}canary.txt`,
    'C:\\canary.txt',
    '..',
    '.',
    '*',
  ]) {
    out.add(n);
  }
  return [...out];
}

describe('security: 200 hostile paths over TFTP and HTTP never leave the roots', () => {
  let t: TestAppliance;
  let names: string[];
  let forbidden: Buffer[];
  let loader: Buffer;

  beforeAll(async () => {
    t = await startTestAppliance({ nodes }, { tftp: { enabled: true, port: 0 }, loader_dirs: [] });
    writeFileSync(join(t.dir, 'canary.txt'), `${CANARY}\n`);
    writePayloads(t.bootRoot);
    loader = readFileSync(join(t.bootRoot, 'undionly.kpxe'));
    mkdirSync(join(t.bootRoot, 'sub'));
    // Links inside boot_root that point out of it: followed only if they stay inside.
    symlinkSync(join(t.dir, 'canary.txt'), join(t.bootRoot, 'escape'));
    symlinkSync(t.dir, join(t.bootRoot, 'escape-dir'));
    names = hostileNames(t.dir);
    forbidden = [Buffer.from(CANARY), readFileSync(join(t.dir, 'key')), Buffer.from('root:x:0:0'), Buffer.from(nodes[0]!.token ? (nodes[0]!.token as { token_secret: string }).token_secret : '')];
  });
  afterAll(async () => {
    await t.stop();
  });

  const leaks = (b: Buffer) => forbidden.filter((f) => f.length > 0 && b.includes(f)).map((f) => f.toString('latin1').slice(0, 20));

  it('there are at least 200 distinct hostile names', () => {
    expect(names.length).toBeGreaterThanOrEqual(200);
  });

  it('HTTP: every one is refused with a 4xx, and no answer holds a byte from outside the root', async () => {
    const port = t.app.httpPort!;
    const bad: string[] = [];
    for (const name of names) {
      // Raw request lines: no client library gets to normalise "../" away first.
      const target = `/${name}`.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
      const res = await rawHttp(port, `GET ${target} HTTP/1.1\r\nHost: edgeboot\r\nConnection: close\r\n\r\n`);
      if (res.status < 400 || res.status >= 500 || leaks(res.bytes).length > 0) bad.push(`${res.status} ${name} ${leaks(res.bytes).join(',')}`);
    }
    expect(bad).toEqual([]);
  }, 60_000);

  it('TFTP: every one is answered with an ERROR packet and no data from outside the root', async () => {
    const port = tftpPort(t.app);
    const bad: string[] = [];
    for (const name of names) {
      for (const file of new Set([name, safeDecode(name)])) {
        try {
          const got = await tftpGet({ server: '127.0.0.1', port, file, localAddress: '127.0.0.1', keepData: true, timeoutMs: 1000, retries: 1 });
          bad.push(`data for ${file} ${leaks(got.data!).join(',')}`);
        } catch (err) {
          if (!(err instanceof TftpErrorReply)) bad.push(`no ERROR for ${file}: ${(err as Error).message}`);
        }
      }
    }
    expect(bad).toEqual([]);
  }, 60_000);

  it('the daemon still serves the real loader over both after the sweep', async () => {
    const got = await tftpGet({ server: '127.0.0.1', port: tftpPort(t.app), file: 'undionly.kpxe', localAddress: '127.0.0.1', keepData: true });
    expect(got.data!.equals(loader)).toBe(true);
    const res = await fetch(`${t.base}/undionly.kpxe`);
    expect(Buffer.from(await res.arrayBuffer()).equals(loader)).toBe(true);
  });

  it('logged no token, no answer-URL signature and not the canary', () => {
    const log = t.log.text();
    expect(leakedSecrets(log, secretsIn(nodes))).toEqual([]);
    expect(log).not.toContain(CANARY);
  });
});

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
