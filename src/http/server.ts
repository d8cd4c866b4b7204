import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HttpOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  /** Liveness: the process can do its work (not failed, not crashed). */
  readonly live: () => boolean;
  /** Readiness: connected and holding a place in the consumer group. */
  readonly ready: () => boolean;
}

export interface HttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/** The paths the server answers; the deployment manifests' probes and scrape configs are tested against them. */
export const HTTP_PATHS = { metrics: '/metrics', health: '/healthz', ready: '/readyz' } as const;

/** `/metrics` for Prometheus, `/healthz` and `/readyz` for Kubernetes probes. */
export async function startHttpServer(options: HttpOptions): Promise<HttpServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === HTTP_PATHS.metrics) {
      options.registry.metrics().then(
        (body) => response.writeHead(200, { 'content-type': options.registry.contentType }).end(body),
        (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)),
      );
    } else if (path === HTTP_PATHS.health || path === HTTP_PATHS.ready) {
      const ok = path === HTTP_PATHS.health ? options.live() : options.ready();
      response.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not ok\n');
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
