import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The product as built by `npm run build` (dist/), not the copy bench/tsconfig.json compiles alongside.
const CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../dist/src/cli/edgeboot.js');

/** A reference region started by a fleet bench: its port, PID, how long it took to listen, and signals. */
export interface RegionChild {
  port: number;
  pid: number;
  startMs: number;
  stop: () => void;
  reload: () => void;
}

/** Start `edgeboot region <args> --listen 127.0.0.1:0` and resolve once its log says where it listens. */
export function startRegionChild(args: string[], name = 'region'): Promise<RegionChild> {
  const t = performance.now();
  const child = spawn(process.execPath, [CLI, 'region', ...args, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ok, fail) => {
    let buf = '';
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /"port":(\d+)[^\n]*"region listening"/.exec(buf);
      if (m) {
        buf = '';
        ok({ port: Number(m[1]), pid: child.pid!, startMs: performance.now() - t, stop: () => child.kill('SIGTERM'), reload: () => child.kill('SIGHUP') });
      }
      // The log keeps flowing (and is drained); only the tail matters while waiting for the line.
      if (buf.length > 1 << 20) buf = buf.slice(-4096);
    });
    child.once('exit', (code) => fail(new Error(`${name} exited with ${code}`)));
  });
}
