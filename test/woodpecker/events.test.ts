import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { silentLogger } from '../../src/observability/logger.js';
import { createFakeWoodpecker } from '../../src/sandbox/fake-woodpecker.js';
import { serveFake } from '../../src/sandbox/serve.js';
import { VirtualClock } from '../../src/sandbox/virtual-clock.js';
import { seededRandom, systemClock } from '../../src/util/clock.js';
import type { FetchFn } from '../../src/util/clock.js';
import {
  SseParser,
  mayHaveNewWork,
  parsePipelineEvent,
  watchEvents,
  type EventStreamState,
  type PipelineEvent,
} from '../../src/woodpecker/events.js';
import { ADMIN_TOKEN } from './helpers.js';

const BASE = 'http://woodpecker.test';

describe('SSE parser', () => {
  const cases: { what: string; chunks: string[]; events: string[]; comments?: number }[] = [
    { what: 'the server greeting is a comment', chunks: [': ping\n\n'], events: [], comments: 1 },
    { what: 'one event', chunks: ['data: {"a":1}\n\n'], events: ['{"a":1}'] },
    { what: 'no space after the colon', chunks: ['data:x\n\n'], events: ['x'] },
    { what: 'multi-line data joined by LF', chunks: ['data: a\ndata: b\n\n'], events: ['a\nb'] },
    { what: 'CRLF line ends', chunks: ['data: a\r\n\r\n'], events: ['a'] },
    { what: 'CR line ends (a CR at the end of a chunk waits: it may start a CRLF)', chunks: ['data: a\r\rdata: b\r\r'], events: ['a'] },
    { what: 'CRLF split across chunks', chunks: ['data: a\r', '\n\r', '\n'], events: ['a'] },
    { what: 'a line split across chunks', chunks: ['da', 'ta: hel', 'lo\n', '\n'], events: ['hello'] },
    { what: 'event, id and retry fields are read past', chunks: ['event: x\nid: 3\nretry: 10\ndata: y\n\n'], events: ['y'] },
    { what: 'a blank line without data dispatches nothing', chunks: ['\n\nid: 1\n\n'], events: [] },
    { what: 'several events in one chunk', chunks: ['data: 1\n\n: ping\n\ndata: 2\n\n'], events: ['1', '2'], comments: 1 },
    { what: 'an unfinished event is kept for the next chunk', chunks: ['data: 1\n'], events: [] },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const p = new SseParser();
      const got = c.chunks.flatMap((ch) => p.push(ch));
      assert.deepEqual(got, c.events);
      if (c.comments !== undefined) assert.equal(p.comments, c.comments);
    });
  }

  it('drops an event larger than its limit and goes on with the next one', () => {
    const p = new SseParser(100);
    const big = 'x'.repeat(60);
    assert.deepEqual(p.push(`data: ${big}\ndata: ${big}\n\ndata: ok\n\n`), ['ok']);
    assert.equal(p.oversized, 1);
  });

  it('drops an endless line without holding it in memory', () => {
    const p = new SseParser(1000);
    for (let i = 0; i < 50; i++) assert.deepEqual(p.push('data: ' + 'y'.repeat(400)), []);
    assert.equal(p.oversized, 1);
    assert.deepEqual(p.push('\n\ndata: next\n\n'), ['next']);
  });
});

describe('pipeline events', () => {
  it('reads repo, number and status of a model.Event', () => {
    assert.deepEqual(
      parsePipelineEvent('{"repo":{"full_name":"acme/app","private":true},"pipeline":{"number":7,"status":"pending"}}'),
      { repo: 'acme/app', pipeline: 7, status: 'pending' },
    );
  });
  for (const bad of ['not json', 'null', '[]', '{"repo":{}}', '"pipeline"']) {
    it(`ignores ${bad}`, () => assert.equal(parsePipelineEvent(bad), undefined));
  }
  const statuses: [string, boolean][] = [
    ['pending', true],
    ['running', true],
    ['success', false],
    ['failure', false],
    ['killed', false],
    ['blocked', false],
    ['', false],
  ];
  for (const [status, wake] of statuses) {
    it(`status "${status}" ${wake ? 'wakes' : 'does not wake'} the queue poll`, () => {
      assert.equal(mayHaveNewWork({ repo: 'a/b', pipeline: 1, status }), wake);
    });
  }
});

interface Watch {
  events: PipelineEvent[];
  states: EventStreamState[];
  stop: AbortController;
  done: Promise<void>;
}

function watch(fetch: FetchFn, clock: VirtualClock | typeof systemClock, extra: { idleTimeoutMs?: number } = {}): Watch {
  const events: PipelineEvent[] = [];
  const states: EventStreamState[] = [];
  const stop = new AbortController();
  const done = watchEvents({
    baseUrl: BASE + '/',
    token: ADMIN_TOKEN,
    fetch,
    clock,
    random: seededRandom(1),
    logger: silentLogger(),
    signal: stop.signal,
    onEvent: (e) => events.push(e),
    onState: (s) => states.push(s),
    ...extra,
  });
  return { events, states, stop, done };
}

function fakeOn(clock: VirtualClock): ReturnType<typeof createFakeWoodpecker> {
  return createFakeWoodpecker({ clock, random: seededRandom(2), adminToken: ADMIN_TOKEN, pick: 'first' });
}

describe('event stream against the fake Woodpecker (virtual time)', () => {
  it('delivers queued, started and finished workflows of visible repos only', async () => {
    const clock = new VirtualClock();
    const fake = fakeOn(clock);
    const w = watch(fake.fetch, clock);
    await clock.settle();
    assert.equal(fake.eventSubscribers(), 1);
    assert.deepEqual(w.states, ['connecting', 'connected']);
    fake.addWorkflow({ durationMs: 30_000, repo: 'acme/app' });
    fake.addWorkflow({ durationMs: 30_000, repo: 'acme/secret', streamVisible: false });
    await clock.settle();
    assert.deepEqual(
      w.events.map((e) => [e.repo, e.status]),
      [['acme/app', 'pending']],
    );
    w.stop.abort();
    await clock.settle();
    await w.done;
    assert.equal(fake.eventSubscribers(), 0, 'the stream is closed on stop');
    assert.equal(w.states.at(-1), 'stopped');
  });

  it('a silent connection is dropped after the idle timeout and opened again', async () => {
    const clock = new VirtualClock();
    const fake = fakeOn(clock);
    let opened = 0;
    fake.injectFault((r) => {
      if (r.route !== 'GET /api/stream/events') return undefined;
      opened++;
      // Headers, then nothing at all (a proxy that buffers the stream).
      return new Response(new ReadableStream({ start() {} }), { headers: { 'Content-Type': 'text/event-stream' } });
    });
    const w = watch(fake.fetch, clock, { idleTimeoutMs: 75_000 });
    await clock.runUntil(clock.now() + 74_000);
    assert.equal(opened, 1);
    await clock.runUntil(clock.now() + 10_000);
    assert.equal(opened, 2, 'reconnected after 75 s without a byte (back-off 0.5–1 s)');
    w.stop.abort();
    await clock.settle();
    await w.done;
  });

  it('pings keep a quiet stream open', async () => {
    const clock = new VirtualClock();
    const fake = fakeOn(clock);
    const w = watch(fake.fetch, clock, { idleTimeoutMs: 75_000 });
    await clock.runUntil(clock.now() + 10 * 60_000);
    assert.equal(fake.requestCounts()['GET /api/stream/events'], 1, 'one connection for 10 quiet minutes');
    w.stop.abort();
    await clock.settle();
    await w.done;
  });

  it('reconnects with growing back-off while the server fails, and resets it after a healthy stream', async () => {
    const clock = new VirtualClock();
    const fake = fakeOn(clock);
    fake.failNext('GET /api/stream/events', 502, { times: 4 });
    const opens: number[] = [];
    const t0 = clock.now();
    fake.injectFault((r) => {
      if (r.route === 'GET /api/stream/events') opens.push(clock.now() - t0);
      return undefined;
    });
    const w = watch(fake.fetch, clock);
    await clock.runUntil(t0 + 60_000);
    assert.equal(opens.length, 5, 'four failures, then connected');
    const gaps = opens.slice(1).map((t, i) => t - (opens[i] ?? 0));
    for (let i = 1; i < gaps.length; i++) assert.ok((gaps[i] ?? 0) >= (gaps[i - 1] ?? 0), `back-off grows: ${gaps.join(', ')}`);
    assert.equal(w.states.at(-1), 'connected');
    fake.addWorkflow({ durationMs: 1000 });
    await clock.settle();
    assert.equal(w.events.length, 1);
    w.stop.abort();
    await clock.settle();
    await w.done;
  });

  it('an HTML 200 (a server or proxy without the route) means no stream: it tries again only much later', async () => {
    const clock = new VirtualClock();
    const fake = fakeOn(clock);
    let opened = 0;
    fake.injectFault((r) => {
      if (r.route !== 'GET /api/stream/events') return undefined;
      opened++;
      return new Response('<!doctype html><html></html>', { headers: { 'Content-Type': 'text/html; charset=utf-8' } });
    });
    const w = watch(fake.fetch, clock);
    await clock.runUntil(clock.now() + 20 * 60_000);
    assert.equal(opened, 1);
    assert.equal(w.states.at(-1), 'unsupported');
    await clock.runUntil(clock.now() + 15 * 60_000);
    assert.equal(opened, 2, 'tried again after 30 minutes');
    w.stop.abort();
    await clock.settle();
    await w.done;
  });
});

describe('event stream: reconnects leave nothing behind (counted, virtual time)', () => {
  // A daemon runs for weeks and its stream is dropped by proxies, restarts and idle timeouts: every connection must
  // give back what it took (its abort listener on the stop signal, its idle timer, the response body).
  it('300 connections that end in every way: listeners, timers and open bodies stay at one connection’s worth', async () => {
    const clock = new VirtualClock();
    const fake = fakeOn(clock);
    const enc = new TextEncoder();
    let opened = 0;
    let open = 0;
    const kinds = ['events, then the server closes', 'HTTP 502', 'silent until the idle timeout', 'ping, then the server closes'];
    fake.injectFault((r) => {
      if (r.route !== 'GET /api/stream/events') return undefined;
      const kind = opened++ % kinds.length;
      if (kind === 1) return new Response('bad gateway', { status: 502 });
      open++;
      let done = false;
      const finish = (): void => {
        if (!done) open--;
        done = true;
      };
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          if (kind === 2) return; // headers, then nothing: the client's idle timer must end it
          c.enqueue(enc.encode(': ping\n\n'));
          if (kind === 0) {
            for (let i = 1; i <= 20; i++) {
              c.enqueue(enc.encode(`data: {"repo":{"full_name":"acme/app"},"pipeline":{"number":${i},"status":"pending"}}\n\n`));
            }
          }
          c.close();
          finish();
        },
        cancel: finish,
      });
      return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } });
    });
    const w = watch(fake.fetch, clock, { idleTimeoutMs: 5_000 });
    const listeners = (): number => getEventListeners(w.stop.signal, 'abort').length;
    const most = { listeners: 0, timers: 0, open: 0 };
    const connections = 300;
    for (let step = 0; opened < connections && step < connections * 20; step++) {
      await clock.runUntil(clock.now() + 1_000);
      most.listeners = Math.max(most.listeners, listeners());
      most.timers = Math.max(most.timers, clock.pendingTimers);
      most.open = Math.max(most.open, open);
    }
    assert.equal(opened, connections);
    assert.equal(w.events.length, (connections / kinds.length) * 20, 'every event of every connection delivered');
    assert.deepEqual(most, { listeners: 1, timers: 1, open: 1 }, 'at most one connection’s worth at any time');
    w.stop.abort();
    await clock.settle();
    await w.done;
    assert.equal(listeners(), 0, 'no listener left on the stop signal');
    assert.equal(clock.pendingTimers, 0, 'no timer left');
    assert.equal(open, 0, 'no response body left unread and uncancelled');
  });

  it('a long healthy connection: thousands of pings and events hold no timer or listener per chunk', async () => {
    const clock = new VirtualClock();
    const fake = fakeOn(clock);
    const w = watch(fake.fetch, clock, { idleTimeoutMs: 75_000 });
    await clock.settle();
    const listeners = (): number => getEventListeners(w.stop.signal, 'abort').length;
    const before = { listeners: listeners(), timers: clock.pendingTimers };
    // 2 000 pings (30 s apart) and 200 workflows over about 17 virtual hours on one connection.
    for (let i = 0; i < 200; i++) {
      fake.addWorkflow({ durationMs: 1_000, repo: 'acme/app' });
      await clock.runUntil(clock.now() + 300_000);
    }
    assert.equal(fake.requestCounts()['GET /api/stream/events'], 1, 'one connection throughout');
    assert.equal(w.events.filter((e) => e.status === 'pending').length, 200);
    assert.equal(listeners(), before.listeners);
    assert.ok(clock.pendingTimers <= before.timers + 1, `timers ${before.timers} → ${clock.pendingTimers}`);
    w.stop.abort();
    await clock.settle();
    await w.done;
    assert.equal(listeners(), 0);
    assert.equal(fake.eventSubscribers(), 0);
  });
});

describe('event stream over a real socket on 127.0.0.1', () => {
  it('streams events as they happen (no buffering until the response ends)', async () => {
    const clock = new VirtualClock();
    const fake = fakeOn(clock);
    const served = await serveFake(fake.app);
    const stop = new AbortController();
    const events: PipelineEvent[] = [];
    const done = watchEvents({
      baseUrl: served.url,
      token: ADMIN_TOKEN,
      fetch: (input, init) => fetch(input, init),
      clock: systemClock,
      random: Math.random,
      logger: silentLogger(),
      signal: stop.signal,
      onEvent: (e) => events.push(e),
    });
    try {
      const deadline = Date.now() + 30_000;
      while (fake.eventSubscribers() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(fake.eventSubscribers(), 1);
      fake.addWorkflow({ durationMs: 60_000, repo: 'acme/live' });
      while (events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(events[0], { repo: 'acme/live', pipeline: 1, status: 'pending' });
    } finally {
      stop.abort();
      await done;
      await served.close();
    }
  });
});
