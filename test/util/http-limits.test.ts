import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { attempt, AttemptFailure, DEFAULT_MAX_RESPONSE_BYTES } from '../../src/util/http.js';
import { systemClock } from '../../src/util/clock.js';
import { WoodpeckerApiError, WoodpeckerClient } from '../../src/woodpecker/client.js';
import { TimewebApiError, TimewebClient } from '../../src/providers/timeweb/client.js';

/**
 * Response bodies are capped: an endless or huge answer from a real socket on 127.0.0.1 is read only up to the limit,
 * then the connection is closed. The server counts what it managed to send, which bounds what the client held.
 */

interface Endless {
  url: string;
  /** Bytes the server wrote per request, and whether the client closed the connection. */
  requests: { sent: number; closed: Promise<void> }[];
  close(): Promise<void>;
}

/** Answers every request with 200 JSON and writes 64 KiB chunks until the client goes away (at most 40 MiB). */
async function endlessServer(opts: { contentLength?: number } = {}): Promise<Endless> {
  const requests: Endless['requests'] = [];
  const chunk = Buffer.alloc(64 * 1024, 0x20); // spaces: valid JSON whitespace, never a complete document
  const server = createServer((req, res: ServerResponse) => {
    const entry = { sent: 0, closed: Promise.resolve() };
    entry.closed = new Promise<void>((done) => res.on('close', () => done()));
    requests.push(entry);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (opts.contentLength !== undefined) headers['Content-Length'] = String(opts.contentLength);
    res.writeHead(200, headers);
    res.write('[');
    const pump = (): void => {
      while (!res.destroyed && entry.sent < 40 * 1024 * 1024) {
        entry.sent += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const LIMIT = 256 * 1024;
/** What the kernel's socket buffers may hold on top of what the client read before it closed the connection. */
const SLACK = 8 * 1024 * 1024;

describe('response body cap', () => {
  it('is 16 MiB by default', () => {
    assert.equal(DEFAULT_MAX_RESPONSE_BYTES, 16 * 1024 * 1024);
  });

  it('attempt stops an endless body at the limit and closes the connection', async () => {
    const srv = await endlessServer();
    try {
      const err = await attempt({
        fetch: globalThis.fetch,
        url: `${srv.url}/x`,
        method: 'GET',
        clock: systemClock,
        timeoutMs: 60_000,
        maxResponseBytes: LIMIT,
      }).then(
        () => assert.fail('an endless body must fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof AttemptFailure);
      assert.equal(err.kind, 'too-large');
      assert.equal(err.status, 200);
      assert.match(err.message, /larger than 256 KiB/);
      const req = srv.requests[0];
      assert.ok(req);
      await req.closed; // the client aborted: the server sees the connection go
      assert.ok(req.sent < LIMIT + SLACK, `server sent ${req.sent} bytes before the client hung up`);
    } finally {
      await srv.close();
    }
  });

  it('a declared Content-Length above the limit fails before reading', async () => {
    const srv = await endlessServer({ contentLength: 700 * 1024 * 1024 });
    try {
      const err = await attempt({
        fetch: globalThis.fetch,
        url: `${srv.url}/x`,
        method: 'GET',
        clock: systemClock,
        timeoutMs: 60_000,
        maxResponseBytes: LIMIT,
      }).then(
        () => assert.fail('must fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof AttemptFailure && err.kind === 'too-large');
      await srv.requests[0]?.closed;
    } finally {
      await srv.close();
    }
  });

  it('a body within the limit is read whole (multi-byte characters across chunks included)', async () => {
    const text = JSON.stringify({ name: 'агент-'.repeat(2_000) });
    const bytes = Buffer.from(text);
    // 7-byte chunks: most split a two-byte character.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 7) c.enqueue(bytes.subarray(i, i + 7));
        c.close();
      },
    });
    const fetchFn = (): Promise<Response> =>
      Promise.resolve(new Response(stream, { headers: { 'Content-Type': 'application/json' } }));
    const raw = await attempt({
      fetch: fetchFn,
      url: 'http://x/',
      method: 'GET',
      clock: systemClock,
      timeoutMs: 60_000,
      maxResponseBytes: bytes.length,
    });
    assert.equal(raw.text, text);
  });

  it('the Woodpecker client names the endpoint and the default limit, and does not retry', async () => {
    const srv = await endlessServer();
    try {
      const client = new WoodpeckerClient({ baseUrl: srv.url, token: 't', fetch: globalThis.fetch, clock: systemClock });
      const err = await client.listAgents().then(
        () => assert.fail('must fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WoodpeckerApiError);
      assert.match(err.message, /^GET \/api\/agents: the answer is larger than 16 MiB \(the limit\); stopped reading$/);
      assert.equal(srv.requests.length, 1, 'an oversized answer is not retried');
      const req = srv.requests[0];
      await req?.closed;
      assert.ok((req?.sent ?? 0) < DEFAULT_MAX_RESPONSE_BYTES + SLACK, `server sent ${req?.sent} bytes`);
    } finally {
      await srv.close();
    }
  });

  it('the Timeweb client names the endpoint and the limit, and does not retry', async () => {
    const srv = await endlessServer();
    try {
      const client = new TimewebClient({
        baseUrl: srv.url,
        token: 't',
        fetch: globalThis.fetch,
        clock: systemClock,
        random: () => 0.5,
        maxResponseBytes: LIMIT,
        rateLimit: false,
      });
      const err = await client.listServers().then(
        () => assert.fail('must fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof TimewebApiError);
      assert.equal(err.kind, 'too-large');
      assert.match(err.message, /^Timeweb API GET \/api\/v1\/servers: HTTP 200: the answer is larger than 256 KiB \(the limit\)/);
      assert.equal(err.retryable, false);
      assert.equal(err.ambiguous, true, 'a create whose answer could not be read may have happened: look before creating again');
      assert.equal(srv.requests.length, 1);
      await srv.requests[0]?.closed;
    } finally {
      await srv.close();
    }
  });
});
