/**
 * CPU-seconds of a server and everything it forks (in.tftpd forks a child per transfer): each server runs in
 * a cgroup v2 group of its own and its `cpu.stat` is read. Where no writable cgroup v2 hierarchy exists, the
 * process's own counters plus those of its reaped children (/proc/<pid>/stat) stand in.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where a cgroup v2 hierarchy is mounted: the root on a pure v2 system, `unified` on a hybrid one. */
function cgroup2Root(): string | undefined {
  for (const dir of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) if (existsSync(join(dir, 'cgroup.procs')) && existsSync(join(dir, 'cgroup.subtree_control'))) return dir;
  return undefined;
}

/** A group of processes whose CPU-seconds are counted together. */
export class CpuGroup {
  readonly #dir?: string;
  #pid?: number;

  private constructor(dir: string | undefined) {
    this.#dir = dir;
  }

  /** A fresh group named `name` (unique per bench run), or the /proc fallback when cgroups are not writable. */
  static create(name: string): CpuGroup {
    const root = cgroup2Root();
    if (root) {
      const dir = join(root, name);
      try {
        mkdirSync(dir);
        return new CpuGroup(dir);
      } catch {
        // Not root, or a read-only hierarchy (a container): fall back to /proc.
      }
    }
    return new CpuGroup(undefined);
  }

  /** How the CPU is counted, for the printed table. */
  get method(): string {
    return this.#dir ? 'cgroup v2 cpu.stat' : '/proc utime+stime of the server and its reaped children';
  }

  /** `cmd args` wrapped so the process joins the group before it execs (its forks are then counted too). */
  wrap(cmd: string, args: string[]): [string, string[]] {
    if (!this.#dir) return [cmd, args];
    return ['sh', ['-c', 'echo $$ > "$1" && shift && exec "$@"', 'sh', join(this.#dir, 'cgroup.procs'), cmd, ...args]];
  }

  /** The process the /proc fallback reads (the server's pid: the wrapper execs into it). */
  track(pid: number | undefined): void {
    this.#pid = pid;
  }

  /** CPU-seconds used by the group so far. */
  seconds(): number {
    try {
      if (this.#dir) {
        const usec = /^usage_usec (\d+)/m.exec(readFileSync(join(this.#dir, 'cpu.stat'), 'utf8'))?.[1];
        return Number(usec) / 1e6;
      }
      if (this.#pid === undefined) return Number.NaN;
      const stat = readFileSync(`/proc/${this.#pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
    } catch {
      return Number.NaN;
    }
  }

  /** End every process left in the group (forked transfer children too) and remove it. */
  async remove(): Promise<void> {
    if (!this.#dir) return;
    try {
      writeFileSync(join(this.#dir, 'cgroup.kill'), '1');
    } catch {
      // Kernels before 5.14 have no cgroup.kill; the servers were sent SIGTERM already.
    }
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(this.#dir);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    console.log(`could not remove ${this.#dir}: processes still in it`);
  }
}
