import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { createHttpApp, startHttpServer } from '../../src/observability/http.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createStatusTracker, type StatusSnapshot } from '../../src/observability/status.js';
import { MIN, T0, config, manualClock, syntheticRun } from './fixtures.js';
import { startTwoPools } from './two-pools.js';

/**
 * The status page in a real headless Chromium (Debian `chromium`): it must load, poll /api/status, fill the
 * tables and draw the chart, with no console error, no CSP violation and no request to any other origin.
 * Skipped when chromium is missing, unless REQUIRE_VALIDATORS=1.
 */

const CHROMIUM = '/usr/bin/chromium';
const required = process.env.REQUIRE_VALIDATORS === '1';
const skip = !existsSync(CHROMIUM) && !required ? `${CHROMIUM} not found (apt-get install chromium); set REQUIRE_VALIDATORS=1 to fail instead` : false;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('status page in headless Chromium', () => {
  it('renders live data: cards, agents, decisions and the chart', { skip, timeout: 180_000 }, async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is required (REQUIRE_VALIDATORS=1)`);
    const minutes = 200;
    const clock = manualClock(T0 + minutes * MIN);
    const status = createStatusTracker({
      clock,
      config,
      price: {
        perHour: 7.5,
        currency: 'RUB',
        description: 'preset 2453 (2 CPU / 4 GB / 50 GB) + public IPv4',
        parts: [
          { label: 'server', perHour: 7.3 },
          { label: 'public IPv4', perHour: 0.2 },
        ],
      },
    });
    status.observeBalance({ amount: 320, currency: 'RUB', warnBelow: 500, low: true, hoursLeft: 40 });
    const metrics = createMetrics({ poolId: config.poolId });
    for (const r of syntheticRun(T0, minutes)) {
      status.observeTick(r);
      metrics.observeTick(r);
    }
    const app = createHttpApp({ status, metrics, clock, readiness: { maxTickAge: 3 * MIN } });
    const srv = await startHttpServer(app, '127.0.0.1:0');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
      const problems: string[] = [];
      const foreign: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('request', (r) => {
        const u = r.url();
        if (!u.startsWith(srv.url) && !u.startsWith('data:')) foreign.push(u);
      });

      await page.goto(`${srv.url}/`);
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 60_000 });
      await page.waitForSelector('#agents tr td.mono');
      await page.waitForSelector('#chart path[data-series="agents"]');

      const dir = join(process.cwd(), '.cache');
      mkdirSync(dir, { recursive: true });
      const shot = join(dir, 'status-page.png');
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(statSync(shot).size > 10_000, 'screenshot written');

      const names = await page.$$eval('#agents tr td:first-child', (tds) => tds.map((t) => t.textContent ?? ''));
      const snap = status.snapshot();
      assert.deepEqual(
        names.map((n) => n.replace(/(cordoned|drain requested)$/, '')),
        snap.agents.map((a) => a.name),
      );
      const states = await page.$$eval('#agents tr td:nth-child(2) .badge', (b) => b.map((x) => x.textContent ?? ''));
      assert.deepEqual(
        states,
        snap.agents.map((a) => a.state),
      );
      assert.equal(await page.textContent('#c-agents'), String(snap.agents.length));
      assert.equal(await page.textContent('#state'), 'running');
      assert.match((await page.textContent('#c-cost')) ?? '', /RUB$/);
      assert.match((await page.textContent('#c-cost-sub')) ?? '', /7\.50 RUB\/h per server \(server 7\.30 \+ public IPv4 0\.20\)/);
      assert.equal(await page.textContent('#c-balance'), 'account balance 320 RUB, about 40 h left \u2014 below 500 RUB, top it up');
      assert.equal(await page.getAttribute('#c-balance', 'class'), 'small low');
      assert.equal(await page.textContent('.card:has(#c-desired) h2'), 'Target agents');
      assert.match((await page.textContent('#c-desired-sub')) ?? '', /^the queue needs \d+, capacity counted \d+$/);
      assert.match((await page.textContent('#config')) ?? '', /policy default/);

      const decisions = await page.$$eval('#decisions tr', (rows) => rows.length);
      assert.equal(decisions, snap.decisions.length);
      const reasonCodes = await page.$$eval('#decisions tr td:nth-child(4)', (t) => t.map((x) => x.textContent ?? ''));
      assert.ok(reasonCodes.includes('pending-work'));

      const paths = await page.$$eval('#chart path', (ps) => ps.map((p) => [p.getAttribute('data-series'), (p.getAttribute('d') ?? '').length]));
      assert.deepEqual(
        paths.map((p) => p[0]),
        ['agents', 'busy', 'booting', 'pending', 'running'],
      );
      for (const [series, len] of paths) assert.ok(Number(len) > 100, `series ${series} has a drawn line`);
      assert.equal(await page.getAttribute('#chart', 'data-points'), String(snap.series.length));
      const legendColors = await page.$$eval('#legend i', (is) => is.map((i) => getComputedStyle(i).backgroundColor));
      assert.ok(legendColors.every((c) => c !== 'rgba(0, 0, 0, 0)'), 'legend colours applied under the CSP');

      // One pool: nothing of the several-pools view.
      assert.equal(await page.isVisible('#chart-card'), true);
      for (const hidden of ['#pool-list', '#unservable-card', '#cards-title']) assert.equal(await page.isHidden(hidden), true, hidden);
      assert.deepEqual(await page.$$eval('th.pc', (ths) => ths.map((t) => (t as HTMLElement).hidden)), [true, true, true], 'no Pool column');
      assert.equal(await page.$$eval('#agents tr:first-child td', (t) => t.length), 6);
      assert.match((await page.textContent('#pool')) ?? '', /^pool 1 \u00b7 installation /);

      assert.deepEqual(problems, [], 'no console errors or CSP violations');
      assert.deepEqual(foreign, [], 'no request leaves the origin');
    } finally {
      await browser.close();
      await srv.close();
    }
  });

  it('shows every pool of a two-pool daemon against the fakes: cards, charts, tables with a Pool column, unservable work', { skip, timeout: 180_000 }, async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is required (REQUIRE_VALIDATORS=1)`);
    const d = await startTwoPools();
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      await d.tick();
      await d.tick();
      const snap = (await (await fetch(`${d.url}/api/status`)).json()) as StatusSnapshot;
      const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      await page.goto(`${d.url}/`);
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 60_000 });
      await page.waitForSelector('section.pool[data-pool="large"] svg.chart path[data-series="agents"]', { state: 'attached' });
      const dir = join(process.cwd(), '.cache');
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: join(dir, 'status-page-pools.png'), fullPage: true });

      assert.equal(await page.textContent('#pool'), 'pools small, large');
      assert.match(await page.title(), /pools small, large$/);
      assert.equal(await page.textContent('#state'), 'running');
      assert.equal(await page.isHidden('#chart-card'), true, 'no first-pool chart at the top');
      assert.equal(await page.isVisible('#cards-title'), true);
      // The top cards add up every pool.
      assert.equal(await page.textContent('#c-agents'), '2');
      assert.equal(await page.textContent('#c-desired'), '2');
      assert.equal(await page.textContent('#c-pending'), '4');
      assert.match((await page.textContent('#c-pending-sub')) ?? '', /, 1 no pool can run$/);
      assert.equal(await page.textContent('#c-servers'), '2');

      // One section per pool: its settings, its cards (its share of the queue) and its chart.
      const sections = await page.$$eval('section.pool', (ss) =>
        ss.map((x) => ({
          pool: x.getAttribute('data-pool'),
          heading: x.querySelector('h2')?.textContent ?? '',
          cards: Object.fromEntries(
            [...x.querySelectorAll('[data-card]')].map((c) => [c.getAttribute('data-card'), c.querySelector('.big')?.textContent ?? '']),
          ),
          points: x.querySelector('svg.chart')?.getAttribute('data-points'),
          series: [...x.querySelectorAll('svg.chart path')].map((p) => p.getAttribute('data-series')),
        })),
      );
      assert.deepEqual(
        sections.map((x) => [x.pool, x.cards]),
        [
          ['small', { agents: '1', desired: '1', pending: '2', running: '0', servers: '1', cost: x0(snap, 0) }],
          ['large', { agents: '1', desired: '1', pending: '1', running: '0', servers: '1', cost: x0(snap, 1) }],
        ],
      );
      assert.match(sections[0]?.heading ?? '', /^Pool smallrunningsize=small \u00b7 0\u20133 agents \u00b7 2 workflows\/agent/);
      assert.match(sections[1]?.heading ?? '', /^Pool largerunningsize=large \u00b7 0\u20132 agents \u00b7 1 workflows\/agent/);
      for (const x of sections) {
        assert.equal(x.points, String(snap.pools?.find((p) => p.pool.poolId === x.pool)?.series.length), `pool ${x.pool} chart`);
        assert.deepEqual(x.series, ['agents', 'busy', 'booting', 'pending', 'running']);
      }

      // The work no pool can run, with its labels.
      assert.equal(await page.isVisible('#unservable-card'), true);
      const unservable = await page.$$eval('#unservable tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((t) => t.textContent ?? '')));
      assert.deepEqual(unservable, [['org-id=1,repo=acme/app,type=gpu', '1']]);

      // Agents, servers and decisions with their pool.
      const cells = (sel: string): Promise<string[][]> =>
        page.$$eval(sel, (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((t) => t.textContent ?? '')));
      assert.deepEqual(await page.$$eval('th.pc', (ths) => ths.map((t) => (t as HTMLElement).hidden)), [false, false, false]);
      const agents = await cells('#agents tr');
      assert.deepEqual(
        agents.map((r) => [r[0], r[1], r[2]]),
        snap.agents.map((a) => [a.name, a.pool, 'booting']),
      );
      assert.deepEqual((await cells('#servers tr')).map((r) => [r[0], r[1]]), snap.servers.map((x) => [x.name, x.pool]));
      const decisions = await cells('#decisions tr');
      assert.deepEqual(
        decisions.filter((r) => r[2] === 'create').map((r) => [r[1], r[3]]).sort(),
        snap.decisions.filter((x) => x.action === 'create').map((x) => [x.pool, x.agent]).sort(),
      );
      assert.deepEqual(decisions.filter((r) => r[2] === 'create').map((r) => r[1]).sort(), ['large', 'small']);
      assert.deepEqual(problems, [], 'no console errors or CSP violations');
    } finally {
      await browser.close();
      await d.close();
    }
  });
});

/** A pool's spend as the page prints it. */
function x0(s: StatusSnapshot, i: number): string {
  const c = s.pools?.[i]?.cost;
  if (!c) return '';
  return `${c.total.toFixed(c.total < 10 ? 2 : 0)}${c.currency ? ` ${c.currency}` : ''}`;
}
