import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootClientKind, clientFacts, isIpxe } from '../../src/dhcp-hooks/client-facts.js';
import { type DhcpPacket, decodeDhcp } from '../../src/dhcp-hooks/dhcp-packet.js';
import { MessageType, Opt } from '../../src/dhcp-hooks/dhcp-options.js';
import { startDnsmasq } from './lib/dnsmasq.js';
import { type Netns, createNetns } from './lib/netns.js';
import { FIRMWARE, IPXE_LOADERS, REPO_ROOT } from './lib/paths.js';
import { requireRoot, requireTools } from './lib/process.js';
import { type Firmware, bootGuest } from './lib/qemu.js';
import { waitFor } from './lib/wait.js';

// Captures the DHCPDISCOVER and DHCPREQUEST of iPXE (qemu's ROM under SeaBIOS; snponly.efi loaded by
// OVMF's own PXE) on a bridge in a private namespace (dumpcap), and checks what the codec reads from them. With
// EDGEBOOT_WRITE_DHCP_FIXTURES=1 it also refreshes test/fixtures/dhcp/*.bin, which the unit tests parse.

interface CaptureCase {
  firmware: Firmware;
  subnet: string;
  mac: string;
  uuid: string;
  arch: number;
  fixture: string;
  /** The firmware is not iPXE itself: dnsmasq hands it snponly.efi by TFTP and the capture reads that iPXE. */
  firstStage?: 'snponly.efi';
}

// UEFI goes through OVMF's own PXE and snponly.efi: trixie's efi-e1000.rom holds no iPXE any more, and
// real UEFI servers have none in their NIC firmware either.
const CASES: CaptureCase[] = [
  { firmware: 'bios', subnet: '10.231.41', mac: '52:54:00:d4:01:01', uuid: '4c4c4544-0042-3510-8052-b3c04f4e3132', arch: 0, fixture: 'seabios-ipxe' },
  {
    firmware: 'uefi-native',
    subnet: '10.231.42',
    mac: '52:54:00:d4:01:02',
    uuid: '8d1f3b2e-5a6c-4e7f-9a0b-1c2d3e4f5a6b',
    arch: 7,
    fixture: 'ovmf-snponly',
    firstStage: 'snponly.efi',
  },
];

let work: string;

beforeAll(async () => {
  requireRoot();
  requireTools(['qemu-system-x86_64', 'dnsmasq', 'ip', 'timeout', 'dumpcap', 'tshark', ...Object.values(FIRMWARE)]);
  work = await mkdtemp(join(tmpdir(), 'eb-dhcp-cap-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Only the packets iPXE sent (user class iPXE or option 175). */
async function ipxeOnly(packets: Promise<Buffer[]>): Promise<Buffer[]> {
  return (await packets).filter((b) => isIpxe(clientFacts(decodeDhcp(b))));
}

/** UDP payloads of DHCP messages of `type` in a capture file, oldest first. */
async function payloads(pcap: string, type: number): Promise<Buffer[]> {
  const stdout = await new Promise<string>((resolve, reject) => {
    const args = ['-r', pcap, '-Y', `dhcp.option.dhcp == ${type} && udp.dstport == 67`, '-T', 'fields', '-e', 'udp.payload'];
    execFile('tshark', args, { encoding: 'utf8' }, (err, out) => (err ? reject(err) : resolve(out)));
  });
  return stdout
    .split('\n')
    .map((l) => l.trim().replace(/:/g, ''))
    .filter((l) => l !== '')
    .map((h) => Buffer.from(h, 'hex'));
}

describe.each(CASES)('iPXE DHCP under $firmware', (c) => {
  let ns: Netns;
  let discover: DhcpPacket;
  let request: DhcpPacket;
  let raw: { discover: Buffer; request: Buffer };
  let firmwareDiscover: DhcpPacket | undefined;

  beforeAll(async () => {
    const dir = join(work, c.firmware);
    await mkdir(dir, { recursive: true });
    ns = await createNetns({ subnet: c.subnet });
    try {
      const pcap = join(dir, 'dhcp.pcapng');
      const cap = ns.spawn('dumpcap', 'dumpcap', ['-q', '-i', 'br0', '-f', 'udp port 67 or udp port 68', '-w', pcap], join(dir, 'dumpcap.log'));
      await new Promise((r) => setTimeout(r, 1_500));
      const extraArgs: string[] = [];
      if (c.firstStage) {
        const tftpRoot = join(dir, 'tftp');
        await mkdir(tftpRoot);
        await copyFile(IPXE_LOADERS.snponly, join(tftpRoot, c.firstStage));
        extraArgs.push('--enable-tftp', `--tftp-root=${tftpRoot}`, '--dhcp-userclass=set:ipxe,iPXE', `--dhcp-boot=tag:!ipxe,${c.firstStage}`);
      }
      await startDnsmasq({ ns, dir, hosts: [{ mac: c.mac, ip: `${c.subnet}.50` }], extraArgs });
      // iPXE is offered no boot file, so it stops after DHCP; the capture is all this test needs.
      const guest = bootGuest({ ns, dir, firmware: c.firmware, mac: c.mac, uuid: c.uuid, timeoutSeconds: 150 });
      await waitFor('iPXE to send DHCPREQUEST', 145_000, async () => (await ipxeOnly(payloads(pcap, MessageType.request).catch(() => []))).length > 0, 1_000);
      await cap.stop(2_000);
      // The ROM has nothing to boot; stop the guest now instead of waiting for its timeout.
      await ns.teardown();
      await guest.catch(() => undefined);
      const all = await payloads(pcap, MessageType.discover);
      const d = await ipxeOnly(Promise.resolve(all));
      const q = await ipxeOnly(payloads(pcap, MessageType.request));
      raw = { discover: d[0]!, request: q[0]! };
      firmwareDiscover = all.map(decodeDhcp).find((p) => !isIpxe(clientFacts(p)));
      if (c.firstStage && firmwareDiscover && process.env.EDGEBOOT_WRITE_DHCP_FIXTURES === '1') {
        await writeFile(join(REPO_ROOT, 'test/fixtures/dhcp', 'ovmf-native-discover.bin'), all.find((b) => !isIpxe(clientFacts(decodeDhcp(b))))!);
      }
      discover = decodeDhcp(raw.discover);
      request = decodeDhcp(raw.request);
      if (process.env.EDGEBOOT_WRITE_DHCP_FIXTURES === '1') {
        await writeFile(join(REPO_ROOT, 'test/fixtures/dhcp', `${c.fixture}-discover.bin`), raw.discover);
        await writeFile(join(REPO_ROOT, 'test/fixtures/dhcp', `${c.fixture}-request.bin`), raw.request);
      }
    } finally {
      await ns.teardown();
    }
  }, 180_000);

  it('captures a DISCOVER carrying options 53, 55, 57, 60, 61, 77, 93, 94, 97 and 175', () => {
    for (const code of [Opt.messageType, Opt.parameterList, Opt.maxMessageSize, Opt.vendorClass, Opt.clientId, Opt.userClass, Opt.clientArch, Opt.clientNdi, Opt.clientUuid, Opt.ipxeEncap]) {
      expect(discover.options.has(code), `option ${code}`).toBe(true);
    }
  });

  it('reads the guest MAC, its architecture and the user class iPXE', () => {
    const f = clientFacts(discover);
    expect({ mac: f.mac, arch: f.arches[0], userClasses: f.userClasses }).toEqual({ mac: c.mac, arch: c.arch, userClasses: ['iPXE'] });
  });

  it('reads option 97 as the SMBIOS UUID given to qemu', () => {
    expect(clientFacts(discover).uuid).toBe(c.uuid);
  });

  if (c.firstStage) {
    it("sees the firmware's own PXE DISCOVER first: arch 7, PXEClient, no iPXE user class or option 175", () => {
      const f = clientFacts(firmwareDiscover!);
      expect({ arch: f.arches[0], kind: bootClientKind(f), ipxe: isIpxe(f), vendor: f.vendorClass?.slice(0, 20) }).toEqual({
        arch: 7,
        kind: 'pxe',
        ipxe: false,
        vendor: 'PXEClient:Arch:00007',
      });
    });
  }

  it('sees the REQUEST ask for the address dnsmasq offered', () => {
    expect([...(request.options.get(Opt.requestedIp) ?? [])].join('.')).toBe(`${c.subnet}.50`);
  });
});
