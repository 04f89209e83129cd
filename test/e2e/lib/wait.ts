import { setTimeout as sleep } from 'node:timers/promises';

/** Poll `check` until it returns true; a throw from `check` aborts at once, a timeout throws naming `what`. */
export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
