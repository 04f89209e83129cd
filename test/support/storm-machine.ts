/**
 * One simulated machine doing what PXE firmware and iPXE do at power-on: TFTP the loader, GET the entry
 * script, chain to the per-node script, fetch its kernel and initrd, then the signed answer file named on
 * the kernel command line. Every step runs from the machine's own source address.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type GetReply, get, machineAgent } from './storm-http.js';
import { TftpErrorReply, tftpGet } from './tftp-client.js';

/** The steps of one boot, in order. */
export const STAGES = ['tftp', 'entry', 'script', 'kernel', 'initrd', 'answer'] as const;
/** One step of a boot. */
export type Stage = (typeof STAGES)[number];

/** A simulated machine: its boot MAC and its source address. */
export interface Machine {
  mac: string;
  ip: string;
}

/** Where the machines boot from and how they behave. */
export interface BootTarget {
  tftp: { server: string; port: number; file: string };
  /** `http://host:port` of the entry script. */
  httpBase: string;
  /** Expected sizes (and optionally sha256) by stage, checked on arrival. */
  expect?: Partial<Record<'tftp' | 'kernel' | 'initrd', { size: number; sha256?: string }>>;
  /** Hash payloads for a byte-exact check (costs CPU on the client side). */
  hash?: boolean;
  /** The purpose the node script must announce for this machine (`# edgeboot: install boot for … (<mac>)`). */
  expectPurpose?: string;
  /** TFTP first retransmission timeout (firmware uses about a second). */
  tftpTimeoutMs?: number;
  /** Read kernel and initrd no faster than this. */
  rateBytesPerSec?: number;
  /** Give up on a step after this long of retrying (503s, busy TFTP, refused connections). */
  retryBudgetMs?: number;
  /** Longest back-off between two attempts of a step that failed outright. */
  maxBackoffMs?: number;
}

/** What happened to one machine. */
export interface BootResult {
  mac: string;
  ip: string;
  ok: boolean;
  failedStage?: Stage;
  error?: string;
  /** Milliseconds from power-on to the answer file (or to the failure). */
  ms: number;
  stageMs: Partial<Record<Stage, number>>;
  /** Wall-clock time (Date.now) each stage finished, for drills that line stages up with a fault. */
  doneAt: Partial<Record<Stage, number>>;
  bytes: number;
  /** 503 answers honoured (Retry-After), TFTP ERROR "busy" answers, transport failures retried. */
  retries: { http503: number; tftpBusy: number; transport: number; tftpRetransmits: number };
  /** Every HTTP status seen, for drills that assert on them (e.g. no 500). */
  statuses: number[];
}

class StageError extends Error {
  constructor(
    readonly stage: Stage,
    message: string,
  ) {
    super(message);
  }
}

/** iPXE's `${net0/mac:hexhyp}`. */
function hexhyp(mac: string): string {
  return mac.replace(/:/g, '-');
}

/** Expand the variables the entry script hands to iPXE for a BIOS machine without SMBIOS UUID. */
function expandEntry(script: string, mac: string): string {
  const m = /^chain --autofree (\S+)/m.exec(script);
  if (!m) throw new Error('the entry script names no chain URL');
  return m[1]!
    .replace('${edgeboot_mac}', hexhyp(mac))
    .replace('${uuid:uristring}', '')
    .replace('${buildarch:uristring}', 'x86_64')
    .replace('${platform:uristring}', 'pcbios');
}

/** Kernel, initrd and answer-file URLs of a rendered install script. */
export function parseNodeScript(script: string): { kernel: string; initrd: string; answer: string } {
  const kernel = /^kernel (\S+)(.*)$/m.exec(script);
  const initrd = /^initrd (?:--name \S+ )?(\S+)/m.exec(script);
  if (!kernel || !initrd) throw new Error('the node script has no kernel/initrd lines');
  const cmdline = kernel[2] ?? '';
  const preseed = /\burl=(\S+)/.exec(cmdline)?.[1];
  const seed = /\bds=nocloud-net;s=(\S+)/.exec(cmdline)?.[1];
  const answer = preseed ?? (seed ? `${seed}user-data` : undefined);
  if (!answer) throw new Error('the node script names no answer file');
  return { kernel: kernel[1]!, initrd: initrd[1]!, answer };
}

/** Boot one machine; never rejects (a failure is a result). */
export async function bootMachine(m: Machine, t: BootTarget): Promise<BootResult> {
  const started = performance.now();
  const agent = machineAgent(m.ip);
  const r: BootResult = { mac: m.mac, ip: m.ip, ok: false, ms: 0, stageMs: {}, doneAt: {}, bytes: 0, retries: { http503: 0, tftpBusy: 0, transport: 0, tftpRetransmits: 0 }, statuses: [] };
  const budget = t.retryBudgetMs ?? 120_000;
  const maxBackoff = t.maxBackoffMs ?? 8000;

  /** Retry a step until it succeeds or the budget is spent, backing off 0.5, 1, 2 … s like the iPXE script. */
  const attempt = async <T>(stage: Stage, fn: () => Promise<T>): Promise<T> => {
    const until = performance.now() + budget;
    let backoff = 500;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        // An HTTP error status is an answer, not a glitch: the boot fails there (and the drills see it).
        if (err instanceof StageError) throw err;
        if (performance.now() + backoff > until) throw new StageError(stage, (err as Error).message);
        if (err instanceof TftpErrorReply) r.retries.tftpBusy++;
        else r.retries.transport++;
        await sleep(backoff * (0.75 + Math.random() * 0.5));
        backoff = Math.min(backoff * 2, maxBackoff);
      }
    }
  };

  const fetch = async (stage: Stage, url: string, text: boolean): Promise<GetReply> => {
    const t0 = performance.now();
    const until = t0 + budget;
    const reply = await attempt(stage, async () => {
      for (;;) {
        const res = await get(url, { agent, localAddress: m.ip, text, hash: t.hash && !text, rateBytesPerSec: text ? undefined : t.rateBytesPerSec });
        r.statuses.push(res.status);
        if (res.status === 503 && res.retryAfter !== undefined && performance.now() + res.retryAfter * 1000 < until) {
          r.retries.http503++;
          await sleep(res.retryAfter * 1000);
          continue;
        }
        if (res.truncated) throw new Error(`${stage}: body cut short after ${res.bytes} bytes`);
        if (res.status !== 200) throw new StageError(stage, `${stage}: HTTP ${res.status}`);
        return res;
      }
    });
    r.bytes += reply.bytes;
    r.stageMs[stage] = performance.now() - t0;
    r.doneAt[stage] = Date.now();
    return reply;
  };

  const check = (stage: 'tftp' | 'kernel' | 'initrd', bytes: number, sha256?: string) => {
    const want = t.expect?.[stage];
    if (!want) return;
    if (bytes !== want.size) throw new StageError(stage, `${stage}: ${bytes} bytes, expected ${want.size}`);
    if (want.sha256 && sha256 && sha256 !== want.sha256) throw new StageError(stage, `${stage}: content differs`);
  };

  let stage: Stage = 'tftp';
  try {
    const t0 = performance.now();
    const loader = await attempt('tftp', async () => {
      try {
        const got = await tftpGet({ ...t.tftp, localAddress: m.ip, hash: t.hash, timeoutMs: t.tftpTimeoutMs });
        r.retries.tftpRetransmits += got.retransmits;
        return got;
      } catch (err) {
        // Error 0 is "busy / retry later"; any other code (not found, access) is final.
        if (err instanceof TftpErrorReply && err.code !== 0) throw new StageError('tftp', err.message);
        throw err;
      }
    });
    r.stageMs.tftp = performance.now() - t0;
    r.doneAt.tftp = Date.now();
    r.bytes += loader.bytes;
    check('tftp', loader.bytes, loader.sha256);

    stage = 'entry';
    const entry = await fetch('entry', `${t.httpBase}/boot.ipxe`, true);
    stage = 'script';
    const script = await fetch('script', expandEntry(entry.text ?? '', m.mac), true);
    if (t.expectPurpose && !new RegExp(`^# edgeboot: ${t.expectPurpose} boot for \\S+ \\(${m.mac}\\)`, 'm').test(script.text ?? '')) {
      throw new StageError('script', `script: not the ${t.expectPurpose} script of ${m.mac}: ${(script.text ?? '').split('\n')[1] ?? ''}`);
    }
    const urls = parseNodeScript(script.text ?? '');
    stage = 'kernel';
    const kernel = await fetch('kernel', urls.kernel, false);
    check('kernel', kernel.bytes, kernel.sha256);
    stage = 'initrd';
    const initrd = await fetch('initrd', urls.initrd, false);
    check('initrd', initrd.bytes, initrd.sha256);
    stage = 'answer';
    const answer = await fetch('answer', urls.answer, true);
    if (!answer.text) throw new StageError('answer', 'answer: empty answer file');
    r.ok = true;
  } catch (err) {
    r.failedStage = err instanceof StageError ? err.stage : stage;
    r.error = (err as Error).message;
  } finally {
    agent.destroy();
    r.ms = performance.now() - started;
  }
  return r;
}
