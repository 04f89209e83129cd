import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BootArtefacts, ensureBootArtefacts, stageImage } from './lib/artefacts.js';
import { type Dnsmasq, startDnsmasq } from './lib/dnsmasq.js';
import { type EdgebootRun, startEdgeboot, deployingDebianInventory } from './lib/edgeboot.js';
import { type Lab, createLab } from './lib/lab.js';
import { REPO_ROOT } from './lib/paths.js';
import { requireRoot, requireTools } from './lib/process.js';
import { type GuestRun, bootGuest } from './lib/qemu.js';
import { type GuestReport, describeLogs, parseGuestReport } from './lib/serial-log.js';
import { waitFor } from './lib/wait.js';

// Issue 7 (and issue 3's PXELINUX boot): a SeaBIOS guest gets pxelinux.0 from edgeboot's TFTP,
// PXELINUX fetches its rendered pxelinux.cfg/01-<mac> and the kernel/initrd over TFTP, the initrd
// fetches the answer file over HTTP; the lease hook reports the DHCP lease. The node's timeline
// must show the whole boot through the API and the status page (checked in headless Chromium).
// A second guest is handed undionly.kpxe even though it is iPXE already: a chain loop, which the
// timeline must flag.

const HOOK = join(REPO_ROOT, 'dist/src/dhcp-hooks/lease-hook.js');
const OUTPUT = join(REPO_ROOT, 'test-output');
const BOOT_LIMIT_SECONDS = 150;

interface TimelineBody {
  state: string;
  flags: Array<{ kind: string; message: string }>;
  events: Array<{ stage: string; via: string; detail: string; outcome: string; at: string }>;
}

let artefacts: BootArtefacts;

beforeAll(async () => {
  requireRoot();
  requireTools(['qemu-system-x86_64', 'dnsmasq', 'busybox', 'cpio', 'curl', 'ip', 'timeout', '/usr/bin/chromium']);
  artefacts = await ensureBootArtefacts((line) => console.log(line));
}, 600_000);

/** A lab with edgeboot (TFTP on 69, lease intake) and dnsmasq handing every client `bootFile` by TFTP. */
async function startRack(subnet: string, mac: string, ip: string, hostname: string, bootFile: string) {
  const lab = await createLab({ subnet });
  const bootRoot = join(lab.dir, 'boot');
  await stageImage(bootRoot, { os: 'debian', release: 'trixie' }, artefacts);
  const socket = join(lab.dir, 'lease.sock');
  const secret = join(lab.dir, 'lease-hook.secret');
  const edgeboot = await startEdgeboot({
    ns: lab.ns,
    dir: lab.dir,
    bootRoot,
    tftpPort: 69,
    inventory: deployingDebianInventory(mac, hostname, 'observe'),
    extraConfig: { dhcp: { lease_socket: socket, lease_secret_file: secret, lease_hook: HOOK } },
  });
  await waitFor('lease intake', 10_000, async () => /lease intake listening/.test(await edgeboot.log()));
  const dnsmasq = await startDnsmasq({
    ns: lab.ns,
    dir: lab.dir,
    hosts: [{ mac, ip }],
    // Every client, iPXE or not, gets the TFTP loader from edgeboot; the lease hook reports each lease.
    extraArgs: [`--dhcp-boot=${bootFile},,${lab.ns.serverIp}`, `--dhcp-script=${HOOK}`, '--script-on-renewal'],
    env: { ...process.env, EDGEBOOT_LEASE_SOCKET: socket, EDGEBOOT_LEASE_SECRET_FILE: secret },
  });
  return { lab, edgeboot, dnsmasq };
}

async function timeline(lab: Lab, edgeboot: EdgebootRun, mac: string): Promise<TimelineBody> {
  const r = await lab.ns.exec('curl', ['-fsS', '--max-time', '5', `${edgeboot.baseUrl}/api/v1/nodes/${mac.replace(/:/g, '-')}/timeline`]);
  return JSON.parse(r.stdout) as TimelineBody;
}

describe('a PXELINUX boot over TFTP leaves a complete timeline', () => {
  const mac = `52:54:00:71:00:${randomBytes(1).toString('hex')}`;
  const ip = '10.231.71.50';
  const hostname = 'observe-pxelinux';
  let lab: Lab;
  let edgeboot: EdgebootRun;
  let dnsmasq: Dnsmasq;
  let guest: GuestRun | undefined;
  let report: GuestReport = { ok: false };
  let body: TimelineBody = { state: '', flags: [], events: [] };

  beforeAll(async () => {
    ({ lab, edgeboot, dnsmasq } = await startRack('10.231.71', mac, ip, hostname, 'pxelinux.0'));
    guest = await bootGuest({ ns: lab.ns, dir: lab.dir, firmware: 'bios', mac, timeoutSeconds: BOOT_LIMIT_SECONDS });
    report = parseGuestReport(guest.serial);
    console.log(`pxelinux boot to power-off ${guest.seconds.toFixed(1)} s, result "${report.result ?? 'none'}"`);
    body = await timeline(lab, edgeboot, mac);
  }, (BOOT_LIMIT_SECONDS + 120) * 1000);

  afterAll(async () => {
    for (const p of (await lab?.teardown()) ?? []) console.log(`teardown: ${p}`);
  }, 60_000);

  const failure = async (what: string) => {
    lab.keep();
    return describeLogs(what, {
      'serial console': guest?.serial ?? '',
      'edgeboot log': await edgeboot.log(),
      'dnsmasq log': await dnsmasq.log(),
      timeline: JSON.stringify(body.events, null, 1),
    });
  };

  it('boots to the answer file through PXELINUX', async () => {
    if (!report.ok) throw new Error(await failure(`no answer file: result "${report.result ?? 'none'}"`));
    expect(report.answer).toContain(hostname);
  });

  it('fetched pxelinux.0, its rendered config, kernel and initrd over TFTP', async () => {
    const tftp = body.events.filter((e) => e.via === 'tftp').map((e) => `${e.stage}:${e.detail.split('/').pop()}`);
    for (const want of ['loader:pxelinux.0', 'loader:ldlinux.c32', 'kernel:kernel', 'initrd:initrd']) {
      if (!tftp.includes(want)) throw new Error(await failure(`no TFTP ${want} on the timeline`));
    }
    expect(body.events.some((e) => e.stage === 'script' && e.via === 'tftp' && e.detail.startsWith('install pxelinux/'))).toBe(true);
  });

  it('shows DHCP → loader → script → kernel → initrd → answer file, in order', async () => {
    const order = ['dhcp', 'loader', 'script', 'kernel', 'initrd', 'answer'];
    const firsts = order.map((stage) => body.events.findIndex((e) => e.stage === stage && e.outcome === 'ok'));
    if (firsts.some((i) => i < 0) || firsts.some((i, n) => n > 0 && i < firsts[n - 1]!)) {
      throw new Error(await failure(`timeline order ${JSON.stringify(firsts)} for ${order.join(' → ')}`));
    }
    expect(body.flags).toEqual([]);
  });

  it('the status page shows the node and its SVG timeline in a browser', async () => {
    await mkdir(OUTPUT, { recursive: true });
    // Chromium runs inside the namespace, where edgeboot listens.
    const wrapper = join(lab.dir, 'chromium-in-netns.sh');
    await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${lab.ns.name} /usr/bin/chromium "$@"\n`, { mode: 0o755 });
    const browser = await chromium.launch({
      executablePath: wrapper,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
      await page.goto(`${edgeboot.baseUrl}/`);
      const row = page.locator(`tr[data-mac="${mac}"]`);
      expect(await row.count()).toBe(1);
      expect(await row.innerText()).toContain(hostname);
      expect(await row.innerText()).toContain('deploying');
      await page.screenshot({ path: join(OUTPUT, 'status-page.png'), fullPage: true });
      await row.locator('a').click();
      await page.waitForSelector('svg#timeline');
      const stages = await page.locator('svg#timeline g.event').evaluateAll((els) => els.map((e) => e.getAttribute('data-stage')));
      for (const s of ['dhcp', 'loader', 'script', 'kernel', 'initrd', 'answer']) expect(stages).toContain(s);
      expect(await page.locator('table#events tbody tr').count()).toBe(stages.length);
      await page.screenshot({ path: join(OUTPUT, 'node-timeline.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  }, 120_000);
});

describe('a DHCP server that hands undionly.kpxe to iPXE too is flagged as a chain loop', () => {
  const mac = `52:54:00:72:00:${randomBytes(1).toString('hex')}`;
  const ip = '10.231.72.50';
  let lab: Lab;
  let edgeboot: EdgebootRun;
  let flagged: TimelineBody | undefined;

  beforeAll(async () => {
    ({ lab, edgeboot } = await startRack('10.231.72', mac, ip, 'observe-loop', 'undionly.kpxe'));
    const run = bootGuest({ ns: lab.ns, dir: lab.dir, firmware: 'bios', mac, timeoutSeconds: 90 });
    // The guest loops forever; stop looking as soon as the appliance has flagged it.
    await waitFor('the chain-loop flag', 90_000, async () => {
      const t = await timeline(lab, edgeboot, mac).catch(() => undefined);
      if (t?.flags.some((f) => f.kind === 'chain-loop')) flagged = t;
      return flagged !== undefined;
    }).catch(() => undefined);
    await lab.teardown();
    await run.catch(() => undefined);
  }, 240_000);

  afterAll(async () => {
    await lab?.teardown();
  }, 60_000);

  it('the node carries the chain-loop diagnosis', () => {
    expect(flagged?.flags[0]?.message).toMatch(/undionly\.kpxe fetched \d+ times with no boot script.*chain loop/);
  });

  it('the loader was fetched over TFTP at least twice and no boot script was served', () => {
    expect(flagged!.events.filter((e) => e.stage === 'loader' && e.detail === 'undionly.kpxe').length).toBeGreaterThanOrEqual(2);
    expect(flagged!.events.some((e) => e.stage === 'script')).toBe(false);
  });
});
