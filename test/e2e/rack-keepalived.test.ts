import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { edgebootCli } from './lib/paths.js';
import { createNetns, type Netns, uniqueNetnsName } from './lib/netns.js';
import { type ManagedProcess, requireRoot, requireTools, run, startProcess } from './lib/process.js';
import { waitFor } from './lib/wait.js';

// Two appliances per rack: two `edgeboot serve` in their own namespaces on one bridge, the same nodes and the
// same URL-signing key, a floating next-server address moved by keepalived (VRRP, advert 1 s). 200 simulated
// machines (TFTP + HTTP against the floating address) boot while the master appliance is killed by PID: every
// machine must complete; the failover time and the retries are printed.

const SUBNET = '10.231.171';
const VIP = `${SUBNET}.100`;
const MACHINES = 200;
const MAC_PREFIX = '52:54:00:ab';
const here = fileURLToPath(new URL('.', import.meta.url));

requireRoot();
requireTools(['keepalived', 'ip', 'curl']);

interface Appliance {
  name: string;
  ip: string;
  edgeboot: ManagedProcess;
  keepalived: ManagedProcess;
  dir: string;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function inventory() {
  const nodes = Array.from({ length: MACHINES }, (_, i) => ({
    system_id: `ha${i.toString(16).padStart(4, '0')}`,
    hostname: `ha-${i}`,
    macs: [`${MAC_PREFIX}:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`],
    arch: 'amd64/generic',
    status: 'deployed',
    osystem: 'debian',
    release: 'trixie',
  }));
  return { nodes, config: {}, boot_selections: [] };
}

async function hasVip(nsName: string): Promise<boolean> {
  const r = await run('ip', ['-n', nsName, '-4', 'addr', 'show', 'dev', 'eth0'], { allowFailure: true });
  return r.stdout.includes(`${VIP}/`);
}

async function startAppliance(lan: Netns, root: string, host: number, priority: number, key: string): Promise<Appliance> {
  const name = uniqueNetnsName('ebha');
  const ip = `${SUBNET}.${host}`;
  const port = `ha${host}${name.slice(-4)}`.slice(0, 15);
  await run('ip', ['netns', 'add', name]);
  cleanups.push(() => run('ip', ['netns', 'del', name], { allowFailure: true }));
  await run('ip', ['-n', lan.name, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
  await run('ip', ['-n', lan.name, 'link', 'set', port, 'master', 'br0', 'up']);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', name, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
  await run('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
  const dir = join(root, name);
  await mkdir(join(dir, 'boot'), { recursive: true });
  // A 256 KiB file stands for the loader every machine fetches over TFTP.
  await writeFile(join(dir, 'boot', 'storm.bin'), Buffer.alloc(256 * 1024, host));
  await copyFile(key, join(dir, 'url-signing.key'));
  await writeFile(join(dir, 'inventory.yaml'), stringify(inventory()));
  const config = {
    inventory: join(dir, 'inventory.yaml'),
    boot_root: join(dir, 'boot'),
    template_dirs: [],
    server_address: VIP,
    tftp: { enabled: true, port: 69 },
    http: { port: 5248, listen: '0.0.0.0' },
    answers: { key_file: join(dir, 'url-signing.key'), bind_client_ip: true },
    dhcp: { lease_intake: false },
    log: { level: 'info' },
  };
  await writeFile(join(dir, 'edgeboot.yaml'), stringify(config));
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('EDGEBOOT_')) delete env[k];
  const edgeboot = startProcess(`edgeboot-${host}`, 'ip', ['netns', 'exec', name, process.execPath, edgebootCli(), 'serve', '--config', join(dir, 'edgeboot.yaml')], {
    logFile: join(dir, 'edgeboot.log'),
    env,
  });
  cleanups.push(() => edgeboot.stop(2000));
  await waitFor(`edgeboot ${ip} /healthz`, 30_000, async () => {
    if (edgeboot.hasExited()) throw new Error(`edgeboot ${ip} exited: ${await readFile(join(dir, 'edgeboot.log'), 'utf8')}`);
    return (await run('ip', ['netns', 'exec', name, 'curl', '-fsS', '--max-time', '2', '-o', '/dev/null', `http://${ip}:5248/healthz`], { allowFailure: true })).code === 0;
  });
  // The shipped example, with this lab's interface, priority and address; a new master makes edgeboot bind TFTP
  // on the floating address at once (SIGHUP) instead of at its next 10 s address scan.
  let conf = await readFile(resolve(here, '../../debian/examples/keepalived-edgeboot.conf'), 'utf8');
  conf = conf
    .replace(/priority 150/, `priority ${priority}`)
    .replace('10.0.0.2/24 dev eth0', `${VIP}/24 dev eth0`)
    .replace('http://127.0.0.1/healthz', `http://${ip}:5248/healthz`)
    .replace(/notify_master "[^"]*"/, `notify_master "/bin/kill -HUP ${edgeboot.pid}"`);
  expect(conf).toContain(`notify_master "/bin/kill -HUP ${edgeboot.pid}"`);
  await writeFile(join(dir, 'keepalived.conf'), conf);
  const keepalived = startProcess(
    `keepalived-${host}`,
    'ip',
    ['netns', 'exec', name, 'keepalived', '-n', '-l', '-D', '-P', '-f', join(dir, 'keepalived.conf'), '-p', join(dir, 'ka.pid'), '-r', join(dir, 'vrrp.pid')],
    { logFile: join(dir, 'keepalived.log') },
  );
  cleanups.push(() => keepalived.stop(2000));
  return { name, ip, edgeboot, keepalived, dir };
}

describe('two appliances with keepalived', () => {
  it('a 200-machine storm survives killing the master appliance mid-storm', async () => {
    const root = await mkdtemp(join(tmpdir(), 'edgeboot-ha-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const lan = await createNetns({ subnet: SUBNET });
    cleanups.push(() => lan.teardown());
    const key = join(root, 'url-signing.key');
    await writeFile(key, Buffer.alloc(32, 7).toString('hex'), { mode: 0o600 });
    const a = await startAppliance(lan, root, 11, 150, key);
    const b = await startAppliance(lan, root, 12, 100, key);
    await waitFor('the floating address on the master', 20_000, () => hasVip(a.name));
    // The master must answer TFTP on the floating address before the storm (SIGHUP from notify_master).
    await waitFor('TFTP on the floating address', 15_000, async () => (await lan.exec('curl', ['-fsS', '--max-time', '2', '-o', '/dev/null', `tftp://${VIP}/storm.bin`], { allowFailure: true })).code === 0);
    expect(await hasVip(b.name)).toBe(false);

    // One source address per machine, as on a real segment.
    const sources = Array.from({ length: MACHINES }, (_, i) => `${SUBNET}.${i < 80 ? 20 + i : 21 + i}`);
    const batch = join(root, 'addrs.batch');
    await writeFile(batch, sources.map((ip) => `addr add ${ip}/24 dev br0\n`).join(''));
    await run('ip', ['-n', lan.name, '-batch', batch]);
    const out = join(root, 'storm.out');
    const storm = lan.spawn('storm', process.execPath, [join(here, 'lib/ha-storm-client.mjs'), VIP, '5248', 'storm.bin', String(MACHINES), '40', MAC_PREFIX, sources.join(',')], out);
    await new Promise((r) => setTimeout(r, 1500));
    expect(storm.hasExited()).toBe(false);
    const killedAt = Date.now();
    // The master dies: edgeboot and its keepalived, by PID (their process groups).
    process.kill(-a.keepalived.pid, 'SIGKILL');
    process.kill(-a.edgeboot.pid, 'SIGKILL');
    await waitFor('the floating address on the backup', 20_000, () => hasVip(b.name));
    const vipMovedMs = Date.now() - killedAt;
    await waitFor('the backup answering on the floating address', 20_000, async () => (await lan.exec('curl', ['-fsS', '--max-time', '1', '-o', '/dev/null', `tftp://${VIP}/storm.bin`], { allowFailure: true })).code === 0);
    const servingMs = Date.now() - killedAt;
    const code = await storm.exited;
    const text = await readFile(out, 'utf8');
    const line = text.trim().split('\n').at(-1)!;
    const result = JSON.parse(line) as { done: number; failed: number; retries: number; maxRetries: number; ms: number };
    console.log(`keepalived failover: floating address moved ${vipMovedMs} ms after the kill, TFTP served by the backup ${servingMs} ms after; storm ${JSON.stringify(result)}`);
    expect(code).toBe(0);
    expect(result.failed).toBe(0);
    expect(result.done).toBe(MACHINES);
    // The kill really hit the storm: some machines had to retry.
    expect(result.retries).toBeGreaterThan(0);
  }, 180_000);
});
