import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Service } from '../core/service.js';

/** How the HTTP service listens. */
export interface HttpServiceOptions {
  port: number;
  listen: string;
  log: Logger;
}

/** The HTTP edge as a Service: listen, drain and stop in one place, like TFTP. */
export class HttpService implements Service {
  readonly name = 'http';
  readonly #o: HttpServiceOptions;
  readonly #server: Server;
  #draining = false;
  #port = 0;

  /** `handler` is the express app; it may ask `draining` to turn new requests away while stopping. */
  constructor(handler: RequestListener, options: HttpServiceOptions) {
    this.#o = options;
    this.#server = createServer(handler);
    this.#server.keepAliveTimeout = 5_000;
    this.#server.headersTimeout = 10_000;
    this.#server.requestTimeout = 30_000;
  }

  /** The bound port (known once started; the config may ask for port 0). */
  get port(): number {
    return this.#port;
  }

  /** True from the moment stop() is called. */
  get draining(): boolean {
    return this.#draining;
  }

  async start(): Promise<void> {
    try {
      await this.#listen(this.#o.listen);
    } catch (err) {
      // "::" on a host with IPv6 disabled (ipv6.disable=1, some containers): serve IPv4 rather than nothing.
      const code = (err as NodeJS.ErrnoException).code;
      if (this.#o.listen !== '::' || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw err;
      this.#o.log.warn({ listen: this.#o.listen, err: code }, 'this host has no IPv6; HTTP listens on IPv4 only (0.0.0.0)');
      await this.#listen('0.0.0.0');
    }
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  #listen(host: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      // ipv6Only false: one "::" socket takes IPv4 clients too, whatever net.ipv6.bindv6only says.
      this.#server.listen({ port: this.#o.port, host, ipv6Only: false }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stop taking connections at once; running responses get `graceMs`, idle connections are closed as they fall idle. */
  async stop(graceMs: number): Promise<void> {
    this.#draining = true;
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      // Connections that fall idle after their last response are closed too, so none starts a new transfer.
      const idle = setInterval(() => this.#server.closeIdleConnections(), 200);
      const timer = setTimeout(() => {
        clearInterval(idle);
        this.#server.closeAllConnections();
        resolve();
      }, graceMs);
      timer.unref();
      this.#server.close(() => {
        clearTimeout(timer);
        clearInterval(idle);
        resolve();
      });
      this.#server.closeIdleConnections();
    });
  }
}
