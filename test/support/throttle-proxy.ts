import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An HTTP relay to `target` that lets matching response bodies trickle at `bytesPerSec` (a slow WAN link to the region). */
export async function startThrottleProxy(target: string, bytesPerSec: number, slow: (path: string) => boolean): Promise<{ url: string; close(): Promise<void> }> {
  const t = new URL(target);
  const server: Server = createServer((req, res) => {
    const up = request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      if (!slow(req.url ?? '')) return void upRes.pipe(res);
      const started = performance.now();
      let sent = 0;
      upRes.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        res.write(chunk);
        const ahead = (sent / bytesPerSec) * 1000 - (performance.now() - started);
        if (ahead > 5) {
          upRes.pause();
          setTimeout(() => upRes.resume(), ahead);
        }
      });
      upRes.on('end', () => res.end());
      upRes.on('error', () => res.destroy());
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
