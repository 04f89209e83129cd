import { describe, expect, it } from 'vitest';
import { parseMac } from '../../../src/core/mac.js';
import { classifyFile } from '../../../src/observe/classify.js';
import { type BootEvent, BootTimeline, diagnose } from '../../../src/observe/timeline.js';

const mac = parseMac('52:54:00:00:00:01');
const limits = { perNode: 20, maxNodes: 10, bootWindowMs: 600_000, kernelDeadlineMs: 120_000 };

function ev(at: number, stage: BootEvent['stage'], detail = '', outcome = 'ok'): BootEvent {
  return { at, stage, via: 'http', detail, outcome };
}

describe('BootTimeline bounds', () => {
  it('keeps only the newest perNode events of a MAC, oldest first', () => {
    const t = new BootTimeline({ perNode: 3 });
    for (let i = 0; i < 5; i++) t.record(mac, ev(i, 'file', String(i)));
    expect(t.events(mac).map((e) => e.detail)).toEqual(['2', '3', '4']);
  });

  it('evicts the least recently seen MAC past maxNodes', () => {
    const t = new BootTimeline({ maxNodes: 2 });
    const a = parseMac('52:54:00:00:00:0a');
    const b = parseMac('52:54:00:00:00:0b');
    const c = parseMac('52:54:00:00:00:0c');
    // LRU order is refreshed at most once a second per MAC, so space the sightings out.
    t.record(a, ev(1_000, 'dhcp'));
    t.record(b, ev(2_000, 'dhcp'));
    t.record(a, ev(4_000, 'dhcp'));
    t.record(c, ev(5_000, 'dhcp'));
    expect(t.macs().sort()).toEqual([a, c].sort());
    expect(t.evicted).toBe(1);
  });

  it('attributes an IP to the MAC that last held it', () => {
    const t = new BootTimeline();
    t.learnIp('10.0.0.5', mac);
    expect(t.macAt('10.0.0.5')).toBe(mac);
  });
});

describe('BootTimeline storage', () => {
  it('returns every field it was given, and omits the optional ones it was not', () => {
    const t = new BootTimeline({ perNode: 4 });
    t.record(mac, { at: 5, stage: 'kernel', via: 'tftp', detail: 'k', bytes: 1024, ms: 12.5, retransmits: 3, outcome: 'ok' });
    t.record(mac, { at: 6, stage: 'answer-refused', via: 'http', detail: '10.0.0.9', outcome: 'wrong-ip' });
    expect(t.events(mac)).toEqual([
      { at: 5, stage: 'kernel', via: 'tftp', detail: 'k', bytes: 1024, ms: 12.5, retransmits: 3, outcome: 'ok' },
      { at: 6, stage: 'answer-refused', via: 'http', detail: '10.0.0.9', outcome: 'wrong-ip' },
    ]);
  });

  it('reuses the ring of an evicted MAC without leaking its events', () => {
    const t = new BootTimeline({ maxNodes: 1, perNode: 3 });
    const b = parseMac('52:54:00:00:00:0b');
    t.record(mac, ev(1, 'dhcp', 'old'));
    t.record(b, ev(2, 'dhcp', 'new'));
    expect(t.events(mac)).toEqual([]);
    expect(t.events(b).map((e) => e.detail)).toEqual(['new']);
  });

  it('grows past one chunk of rings', () => {
    const t = new BootTimeline({ maxNodes: 3000, perNode: 2 });
    for (let i = 0; i < 2500; i++) t.record(parseMac((0x525400000000 + i).toString(16)), ev(i, 'dhcp', String(i)));
    expect(t.size).toBe(2500);
    expect(t.events(parseMac((0x525400000000 + 2100).toString(16)))[0]!.detail).toBe('2100');
  });
});

describe('stuck diagnosis', () => {
  it('a healthy boot is not flagged', () => {
    const events = [ev(0, 'dhcp'), ev(1, 'loader', 'undionly.kpxe'), ev(2, 'dhcp'), ev(3, 'script', 'install ipxe/install'), ev(4, 'kernel'), ev(5, 'initrd'), ev(6, 'answer', 'preseed')];
    expect(diagnose(events, 10, limits)).toBeUndefined();
  });

  it('flags a chain loop: the loader fetched twice with no script between', () => {
    const events = [ev(0, 'dhcp'), ev(1000, 'loader', 'undionly.kpxe'), ev(5000, 'dhcp'), ev(6000, 'loader', 'undionly.kpxe')];
    const flag = diagnose(events, 7000, limits);
    expect(flag?.kind).toBe('chain-loop');
    expect(flag?.message).toContain('chain loop');
  });

  it('does not call pxelinux.0 followed by ldlinux.c32 a loop', () => {
    const events = [ev(0, 'loader', 'pxelinux.0'), ev(1, 'loader', 'ldlinux.c32'), ev(2, 'script', 'install pxelinux/install')];
    expect(diagnose(events, 3, limits)).toBeUndefined();
    expect(diagnose(events.slice(0, 2), 3, limits)).toBeUndefined();
  });

  it('does not call a reboot after a finished boot a loop', () => {
    const events = [ev(0, 'loader', 'undionly.kpxe'), ev(1, 'script', 'local ipxe/local'), ev(100_000, 'loader', 'undionly.kpxe')];
    expect(diagnose(events, 100_001, limits)).toBeUndefined();
  });

  it('flags a script whose kernel never came', () => {
    const events = [ev(0, 'script', 'install ipxe/install')];
    expect(diagnose(events, 200_000, limits)?.kind).toBe('no-kernel');
    expect(diagnose(events, 60_000, limits)).toBeUndefined();
  });

  it('does not flag a waiting node that keeps asking for its script', () => {
    const events = [ev(0, 'script', 'wait ipxe/wait'), ev(15_000, 'script', 'wait ipxe/wait'), ev(30_000, 'script', 'wait ipxe/wait')];
    expect(diagnose(events, 400_000, limits)).toBeUndefined();
  });

  it('flags the same stage twice with no progress', () => {
    const events = [ev(0, 'script', 'install ipxe/install'), ev(1, 'kernel'), ev(50_000, 'kernel')];
    expect(diagnose(events, 60_000, limits)?.kind).toBe('repeating');
  });

  it('flags repeated answer-file refusals', () => {
    const events = [ev(0, 'script', 'install'), ev(1, 'kernel'), ev(2, 'initrd'), ev(3, 'answer-refused', '', 'wrong-ip'), ev(4, 'answer-refused', '', 'wrong-ip')];
    expect(diagnose(events, 5, limits)?.message).toContain('wrong-ip');
  });

  it('forgets events older than the boot window', () => {
    const events = [ev(0, 'loader'), ev(1, 'loader')];
    expect(diagnose(events, 700_000, limits)).toBeUndefined();
  });
});

describe('classifyFile', () => {
  const table: Array<[string, string]> = [
    ['undionly.kpxe', 'loader'],
    ['snponly.efi', 'loader'],
    ['pxelinux.0', 'loader'],
    ['ldlinux.c32', 'loader'],
    ['images/ubuntu/amd64/generic/noble/stable/kernel', 'kernel'],
    ['/images/debian/amd64/generic/trixie/stable/initrd', 'initrd'],
    ['images/ubuntu/amd64/generic/noble/stable/squashfs', 'squashfs'],
    ['pxelinux.cfg/01-52-54-00-00-00-01', 'config'],
    ['grub/grub.cfg', 'config'],
    ['other/file.txt', 'file'],
  ];
  for (const [path, stage] of table) {
    it(`${path} → ${stage}`, () => {
      expect(classifyFile(path)).toBe(stage);
    });
  }
});
