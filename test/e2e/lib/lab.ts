import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Netns, createNetns } from './netns.js';

/** One test's private world: a temp folder and a network namespace, torn down together. */
export interface Lab {
  readonly dir: string;
  readonly ns: Netns;
  /** Register cleanup to run at teardown (reverse order), before the namespace is deleted. */
  defer(fn: () => Promise<void> | void): void;
  /** Keep the temp folder after teardown (for a failed test's logs); `EDGEBOOT_E2E_KEEP=1` keeps every one. */
  keep(): void;
  /** Run deferred cleanups, stop the namespace's processes, delete it and the folder. Never throws. */
  teardown(): Promise<string[]>;
}

/** Create a lab on `<subnet>.0/24`; call `teardown` in `afterAll`/`finally`. */
export async function createLab(o: { subnet: string }): Promise<Lab> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeboot-e2e-'));
  let ns: Netns;
  try {
    ns = await createNetns({ subnet: o.subnet });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const cleanups: Array<() => Promise<void> | void> = [];
  let keep = process.env.EDGEBOOT_E2E_KEEP === '1';
  return {
    dir,
    ns,
    defer: (fn) => void cleanups.push(fn),
    keep: () => {
      keep = true;
    },
    async teardown() {
      const problems: string[] = [];
      for (const fn of cleanups.splice(0).reverse()) {
        try {
          await fn();
        } catch (err) {
          problems.push(err instanceof Error ? err.message : String(err));
        }
      }
      try {
        await ns.teardown();
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
      }
      if (keep) problems.push(`kept ${dir} for inspection`);
      else await rm(dir, { recursive: true, force: true });
      return problems;
    },
  };
}
