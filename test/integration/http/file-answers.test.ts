import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAppliance, type TestAppliance } from '../../support/appliance.js';

const execFileAsync = promisify(execFile);

// An odd size just over 3 MiB: reads cross the 1 MiB buffer boundaries at uneven offsets.
const SIZE = 3 * 1024 * 1024 + 12_345;
const MTIME = new Date('2026-01-02T03:04:05Z');

interface CurlAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

// Both ways a file leaves the fast path: from memory (the default: whole files held by http.cache_bytes) and
// streamed from its descriptor (cache off, or a file above http.cache_file_bytes).
const PATHS = [
  { name: 'sent from memory', http: {}, held: SIZE },
  { name: 'streamed from the descriptor', http: { cache_bytes: 0 }, held: 0 },
];

describe.each(PATHS)('boot files on the fast path, $name: Range, HEAD and conditional answers, byte-exact (curl as the client)', (way) => {
  let t: TestAppliance;
  let data: Buffer;
  let out: string;
  const path = '/images/debian/amd64/kernel';

  beforeAll(async () => {
    t = await startTestAppliance({ nodes: [] }, { http: { port: 0, listen: '127.0.0.1', ...way.http } });
    const dir = join(t.bootRoot, 'images/debian/amd64');
    mkdirSync(dir, { recursive: true });
    data = randomBytes(SIZE);
    writeFileSync(join(dir, 'kernel'), data);
    utimesSync(join(dir, 'kernel'), MTIME, MTIME);
    out = mkdtempSync(join(tmpdir(), 'edgeboot-file-answers-'));
  });
  afterAll(async () => {
    await t?.stop();
    rmSync(out, { recursive: true, force: true });
  });

  let n = 0;
  // Async: the server runs in this process, so a synchronous child would deadlock it.
  async function curl(...args: string[]): Promise<CurlAnswer> {
    const bodyFile = join(out, `body-${n++}`);
    const { stdout } = await execFileAsync('curl', ['-sS', '--max-time', '20', '-D', '-', '-o', bodyFile, ...args, `${t.base}${path}`]);
    const [statusLine, ...lines] = stdout.trim().split(/\r?\n/);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    let body = Buffer.alloc(0);
    try {
      body = readFileSync(bodyFile);
    } catch {
      // curl writes no file for an empty body.
    }
    return { status: Number(statusLine!.split(' ')[1]), headers, body };
  }

  function rawAnswer(request: string): Promise<Buffer> {
    const { hostname, port } = new URL(t.base);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) }, () => s.write(request));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('error', reject);
      s.on('close', () => resolve(Buffer.concat(chunks)));
    });
  }

  it('GET: 200, the whole file byte-exact, its length and validators', async () => {
    const r = await curl();
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(SIZE));
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers['last-modified']).toBe(MTIME.toUTCString());
    expect(r.headers.etag).toMatch(/^W\/".+"$/);
    expect(r.body.equals(data)).toBe(true);
  });

  it('HEAD: the same headers as GET and no body', async () => {
    const get = await curl();
    const head = await curl('-I');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(SIZE));
    expect(head.headers.etag).toBe(get.headers.etag);
    expect(head.headers['last-modified']).toBe(get.headers['last-modified']);
    // curl -I writes the headers to its output: read the raw answer to see that no body byte follows them.
    const raw = await rawAnswer(`HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const end = raw.indexOf('\r\n\r\n');
    expect(end).toBeGreaterThan(0);
    expect(raw.length).toBe(end + 4);
  });

  const ranges: [string, number, number][] = [
    ['0-0', 0, 0],
    ['1048575-1048576', 1_048_575, 1_048_576],
    ['1000-', 1000, SIZE - 1],
    ['-1', SIZE - 1, SIZE - 1],
    [`-${SIZE + 50}`, 0, SIZE - 1],
    [`2097150-${SIZE + 100}`, 2_097_150, SIZE - 1],
  ];
  for (const [spec, start, end] of ranges) {
    it(`Range bytes=${spec}: 206 with exactly bytes ${start}-${end}`, async () => {
      const r = await curl('-H', `Range: bytes=${spec}`);
      expect(r.status).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/${SIZE}`);
      expect(r.headers['content-length']).toBe(String(end - start + 1));
      expect(r.body.equals(data.subarray(start, end + 1))).toBe(true);
    });
  }

  it('an unsatisfiable range is 416 with the size in Content-Range', async () => {
    for (const spec of [`${SIZE}-`, `${SIZE + 10}-${SIZE + 20}`, '-0']) {
      const r = await curl('-H', `Range: bytes=${spec}`);
      expect(r.status, spec).toBe(416);
      expect(r.headers['content-range'], spec).toBe(`bytes */${SIZE}`);
    }
  });

  it('a multi-part or malformed Range is ignored: the whole file', async () => {
    for (const spec of ['bytes=0-1,5-6', 'lines=1-2', 'bytes=9-3']) {
      const r = await curl('-H', `Range: ${spec}`);
      expect(r.status, spec).toBe(200);
      expect(r.body.equals(data), spec).toBe(true);
    }
  });

  it('If-None-Match with the ETag is 304 without a body; another ETag gets the file', async () => {
    const { headers } = await curl('-I');
    const same = await curl('-H', `If-None-Match: ${headers.etag}`);
    expect(same.status).toBe(304);
    expect(same.body.length).toBe(0);
    const other = await curl('-H', 'If-None-Match: W/"0-0"');
    expect(other.status).toBe(200);
    expect(other.body.equals(data)).toBe(true);
  });

  it('If-Modified-Since: 304 at or after the file time, 200 before it', async () => {
    expect((await curl('-H', `If-Modified-Since: ${MTIME.toUTCString()}`)).status).toBe(304);
    const older = await curl('-H', `If-Modified-Since: ${new Date(MTIME.getTime() - 1000).toUTCString()}`);
    expect(older.status).toBe(200);
    expect(older.body.equals(data)).toBe(true);
  });

  it('If-Range: a matching validator keeps the range, a stale one gets the whole file', async () => {
    const { headers } = await curl('-I');
    const kept = await curl('-H', 'Range: bytes=10-19', '-H', `If-Range: ${headers.etag}`);
    expect(kept.status).toBe(206);
    expect(kept.body.equals(data.subarray(10, 20))).toBe(true);
    const stale = await curl('-H', 'Range: bytes=10-19', '-H', `If-Range: ${new Date(MTIME.getTime() - 5000).toUTCString()}`);
    expect(stale.status).toBe(200);
    expect(stale.body.equals(data)).toBe(true);
  });

  it('the file on disk is unchanged by serving it, and the bytes held in memory are as configured', async () => {
    expect(statSync(join(t.bootRoot, 'images/debian/amd64/kernel')).size).toBe(SIZE);
    const metrics = await (await fetch(`${t.base}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^edgeboot_http_file_cache_bytes ${way.held}$`, 'm'));
  });

  it('a file replaced by rename (same size and time, new content) is answered with the new bytes at once', async () => {
    const file = join(t.bootRoot, 'images/debian/amd64/kernel');
    expect((await curl()).body.equals(data)).toBe(true);
    const fresh = randomBytes(SIZE);
    writeFileSync(`${file}.new`, fresh);
    utimesSync(`${file}.new`, MTIME, MTIME);
    renameSync(`${file}.new`, file);
    const r = await curl();
    expect(r.status).toBe(200);
    expect(r.body.equals(fresh)).toBe(true);
    const part = await curl('-H', 'Range: bytes=1048570-1048580');
    expect(part.body.equals(fresh.subarray(1_048_570, 1_048_581))).toBe(true);
    data = fresh;
  });
});
