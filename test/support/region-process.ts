import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { packageRoot } from '../../src/config/config.js';
import { waitFor } from './appliance.js';

/** `edgeboot region` as a real process (the built CLI), so "killed" means SIGKILL by PID. */
export class RegionProcess {
  child: ChildProcess | undefined;
  /** Everything it wrote to stdout and stderr. */
  log = '';

  /** `args` are the region's own (`--inventory …`/`--database …`, `--tokens …`); the listen address is added. */
  constructor(
    readonly name: string,
    readonly port: number,
    readonly args: string[],
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Start it and wait until `ready` (a path, with `headers`) answers 200. */
  async start(ready: { path: string; headers?: Record<string, string> } = { path: '/healthz' }): Promise<void> {
    const cli = join(packageRoot(), 'dist/src/cli/edgeboot.js');
    const child = spawn(process.execPath, [cli, 'region', ...this.args, '--listen', `127.0.0.1:${this.port}`, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`region ${this.name} exited: ${this.log}`);
        const res = await fetch(`${this.url}${ready.path}`, { headers: ready.headers }).catch(() => undefined);
        await res?.arrayBuffer();
        return res?.status === 200;
      },
      15_000,
      `region ${this.name} to answer`,
    );
  }

  /** SIGSTOP: the process hangs; requests sent to it stay in flight until it dies. */
  freeze(): void {
    process.kill(this.child!.pid!, 'SIGSTOP');
  }

  /** SIGKILL by PID, and wait for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    process.kill(child.pid!, 'SIGKILL');
    await once(child, 'exit');
  }
}
