import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';

/** Anything with a fetch handler: a Hono app, or a plain `{ fetch }`. */
export interface FetchApp {
  fetch: (request: Request) => Response | Promise<Response>;
}

export interface ServedFake {
  /** `http://127.0.0.1:<port>` without a trailing slash. */
  url: string;
  port: number;
  /** Stops listening and drops open connections (including requests a fault hook keeps hanging). */
  close(): Promise<void>;
}

/** Serves a fake on 127.0.0.1 (never another interface). Port 0 picks a free port. */
export function serveFake(app: FetchApp, port = 0): Promise<ServedFake> {
  return new Promise((resolve, reject) => {
    let server: Server | undefined;
    const onError = (err: Error): void => reject(err);
    try {
      server = serve({ fetch: (req: Request) => app.fetch(req), hostname: '127.0.0.1', port }, (info: AddressInfo) => {
        const s = server;
        if (!s) return;
        s.off('error', onError);
        resolve({
          url: `http://127.0.0.1:${info.port}`,
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
