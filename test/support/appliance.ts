import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/core/log.js';
import { type Appliance, startAppliance } from '../../src/main.js';

/** Collects pino JSON lines for assertions. */
export class LogSink {
  readonly lines: string[] = [];
  write(chunk: string): void {
    for (const l of chunk.split('\n')) if (l) this.lines.push(l);
  }
  /** Parsed entries. */
  entries(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  text(): string {
    return this.lines.join('\n');
  }
}

/** A running appliance on 127.0.0.1 with a temp dir, inventory and log sink. */
export interface TestAppliance {
  app: Appliance;
  dir: string;
  inventoryPath: string;
  overrideDir: string;
  bootRoot: string;
  log: LogSink;
  base: string;
  stop(): Promise<void>;
}

/** A test appliance's folder: boot root, template overrides, inventory and config, all under one temp dir. */
export interface ApplianceDir {
  dir: string;
  inventoryPath: string;
  overrideDir: string;
  bootRoot: string;
  configPath: string;
}

/**
 * Lay out a temp folder for an appliance on 127.0.0.1 (HTTP port 0, its own key and lease socket) and write
 * `inventory` and the config; `config` keys override the defaults. `prepare` may fill boot_root first.
 */
export function writeApplianceDir(
  prefix: string,
  inventory: unknown,
  config: Record<string, unknown>,
  prepare?: (bootRoot: string) => void,
): ApplianceDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const inventoryPath = join(dir, 'inventory.yaml');
  const overrideDir = join(dir, 'templates');
  const bootRoot = join(dir, 'boot');
  mkdirSync(overrideDir);
  mkdirSync(bootRoot);
  prepare?.(bootRoot);
  writeFileSync(inventoryPath, stringify(inventory));
  const configPath = join(dir, 'edgeboot.yaml');
  writeFileSync(
    configPath,
    stringify({
      inventory: inventoryPath,
      boot_root: bootRoot,
      template_dirs: [overrideDir],
      http: { port: 0, listen: '127.0.0.1' },
      answers: { key_file: join(dir, 'key') },
      // Each test appliance gets its own lease socket, so parallel test files never share /run/edgeboot.
      dhcp: { lease_socket: join(dir, 'lease.sock') },
      ...config,
    }),
  );
  return { dir, inventoryPath, overrideDir, bootRoot, configPath };
}

/** Write `inventory` and a config into a temp dir and start the appliance on 127.0.0.1, port 0. */
export async function startTestAppliance(inventory: unknown, extraConfig: Record<string, unknown> = {}): Promise<TestAppliance> {
  const { dir, inventoryPath, overrideDir, bootRoot, configPath } = writeApplianceDir('edgeboot-it-', inventory, {
    tftp: { enabled: false },
    log: { level: 'debug' },
    ...extraConfig,
  });
  const config = loadConfig(configPath, {});
  const log = new LogSink();
  const app = await startAppliance(config, createLogger('debug', log));
  return {
    app,
    dir,
    inventoryPath,
    overrideDir,
    bootRoot,
    log,
    base: `http://127.0.0.1:${app.httpPort}`,
    async stop() {
      await app.stop(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A GET from a chosen local address (127.0.0.x), so tests can act as a second client IP. */
export function getFrom(url: string, localAddress: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Wait until `fn` returns true, polling, or fail after `ms`. */
export async function waitFor(fn: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}
