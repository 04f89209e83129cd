#!/usr/bin/env node
/**
 * edgeboot-lease-hook: called by dnsmasq (--dhcp-script), ISC dhcpd (`on commit { execute(…) }`) and
 * Kea (libdhcp_run_script.so) on lease events; reports the lease to edgeboot over its Unix socket.
 * It must never hold up or break the DHCP server: whatever happens it exits 0 within about a second,
 * and problems go to stderr. It imports node:fs and node:net only, so it starts in a few tens of ms.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { DEFAULT_LEASE_SECRET_FILE, DEFAULT_LEASE_SOCKET, type LeaseReport, readServerCall } from './lease-report.js';

const DEADLINE_MS = 900;

function warn(message: string): void {
  process.stderr.write(`edgeboot-lease-hook: ${message}\n`);
}

function done(): never {
  process.exit(0);
}

/** Split leading `--socket=PATH` / `--secret-file=PATH` options (for ISC's execute()) from the server's own arguments. */
function splitOptions(args: string[]): { socket?: string; secretFile?: string; rest: string[] } {
  const out: { socket?: string; secretFile?: string; rest: string[] } = { rest: [] };
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--socket=')) out.socket = a.slice(9);
    else if (a.startsWith('--secret-file=')) out.secretFile = a.slice(14);
    else break;
  }
  out.rest = args.slice(i);
  return out;
}

function run(): void {
  const opts = splitOptions(process.argv.slice(2));
  const call = readServerCall(opts.rest, process.env);
  if (!call) done();
  const socketPath = opts.socket ?? process.env.EDGEBOOT_LEASE_SOCKET ?? DEFAULT_LEASE_SOCKET;
  const secretFile = opts.secretFile ?? process.env.EDGEBOOT_LEASE_SECRET_FILE ?? DEFAULT_LEASE_SECRET_FILE;
  let secret: string;
  try {
    secret = readFileSync(secretFile, 'utf8').trim();
  } catch (err) {
    warn(`cannot read the shared secret ${secretFile} (${(err as NodeJS.ErrnoException).code ?? 'error'}); lease ${call.mac} ${call.ip} not reported`);
    done();
  }
  const report: LeaseReport = { v: 1, secret, ...call };
  const sock = connect(socketPath);
  let reply = '';
  sock.setEncoding('utf8');
  sock.on('connect', () => sock.end(`${JSON.stringify(report)}\n`));
  sock.on('data', (chunk: string) => {
    reply += chunk;
    if (reply.length > 512) sock.destroy();
  });
  sock.on('error', (err: NodeJS.ErrnoException) => {
    warn(`edgeboot is not reachable at ${socketPath} (${err.code ?? err.message}); lease ${call.mac} ${call.ip} not reported`);
    done();
  });
  sock.on('close', () => {
    const line = reply.split('\n')[0] ?? '';
    if (line !== 'ok') warn(`edgeboot refused lease ${call.mac} ${call.ip}: ${line.slice(0, 200) || 'no answer'}`);
    done();
  });
}

const timer = setTimeout(() => {
  warn(`edgeboot did not answer within ${DEADLINE_MS} ms; lease not reported`);
  done();
}, DEADLINE_MS);
timer.unref();
try {
  run();
} catch (err) {
  warn(`unexpected error: ${err instanceof Error ? err.message : String(err)}`);
  done();
}
