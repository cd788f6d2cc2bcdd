import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';

/** Anything with a fetch handler: a Hono app, or a plain `{ fetch }`. */
export interface FetchApp {
  fetch: (request: Request) => Response | Promise<Response>;
}

export interface Listening {
  /** `http://host:port` without a trailing slash (IPv6 hosts in brackets). */
  url: string;
  /** The bound address, e.g. `127.0.0.1` or `::`. */
  host: string;
  port: number;
  /** Stops listening and drops open connections (including requests that are still hanging). */
  close(): Promise<void>;
}

/** Serves a fetch handler on `host:port` (port 0 picks a free one). Rejects when the address cannot be bound. */
export function listen(app: FetchApp, host: string, port: number): Promise<Listening> {
  return new Promise((resolve, reject) => {
    let server: Server | undefined;
    const onError = (err: Error): void => reject(err);
    try {
      server = serve({ fetch: (req: Request) => app.fetch(req), hostname: host, port }, (info: AddressInfo) => {
        const s = server;
        if (!s) return;
        s.off('error', onError);
        const shown = info.address.includes(':') ? `[${info.address}]` : info.address;
        resolve({
          url: `http://${shown}:${info.port}`,
          host: info.address,
          port: info.port,
          close: () =>
            new Promise<void>((done, fail) => {
              s.close((err) => (err ? fail(err) : done()));
              s.closeAllConnections();
            }),
        });
      }) as Server;
      server.once('error', onError);
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
