import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Command } from 'commander';
import { chromium } from 'playwright-core';
import { registerDemoCommand } from '../../src/cli/demo.js';

/**
 * The status page with live data from `twcloud-scaler demo` (the real engine loop against the simulated world on
 * 127.0.0.1), in headless Chromium. Skipped when chromium is missing, unless REQUIRE_VALIDATORS=1.
 */

const CHROMIUM = '/usr/bin/chromium';
const required = process.env.REQUIRE_VALIDATORS === '1';
const skip = !existsSync(CHROMIUM) && !required ? `${CHROMIUM} not found (apt-get install chromium); set REQUIRE_VALIDATORS=1 to fail instead` : false;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitUp(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('status page with the demo', () => {
  it('shows the live pool of `twcloud-scaler demo`', { skip, timeout: 180_000 }, async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is required (REQUIRE_VALIDATORS=1)`);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let stdout = '';
    let stopDemo = (): void => undefined;
    const program = new Command('twcloud-scaler').enablePositionalOptions().exitOverride();
    registerDemoCommand(program, {
      env: {},
      cwd: '/nowhere',
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: () => true },
      readFile: (p: string): string => {
        throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      },
      writeFile: () => undefined,
      // The test stops the demo once it has seen the page (no fixed --duration: a slow machine gets the time it needs).
      onInterrupt: (stop) => {
        stopDemo = stop;
        return () => undefined;
      },
    });
    const demo = program.parseAsync(
      [
        'demo',
        '--seed', '3',
        '--http-addr', `127.0.0.1:${port}`,
        '--boot-delay', '300ms',
        '--agent-start-delay', '200ms',
        '--jobs-per-minute', '120',
        '--reconciliation-interval', '1s',
        '--queue-poll-interval', '250ms',
      ],
      { from: 'user' },
    );
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      await waitUp(`${url}/healthz`, 60_000);
      const page = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      await page.goto(`${url}/`);
      // Agents appear once the demo's queue fills; the page polls every 5 s.
      await page.waitForSelector('#agents tr td.mono', { timeout: 60_000 });
      await page.waitForFunction(() => document.querySelectorAll('#decisions tr td.mono').length > 0, undefined, { timeout: 60_000 });
      await page.waitForSelector('#chart circle[data-series="agents"]');
      const dir = join(process.cwd(), '.cache');
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: join(dir, 'status-page-demo.png'), fullPage: true });
      const names = await page.$$eval('#agents tr td:first-child', (tds) => tds.map((t) => t.textContent ?? ''));
      assert.ok(names.every((n) => /^pool-1-agent-[a-z0-9]{12}$/.test(n)), names.join(', '));
      const reasons = await page.$$eval('#decisions tr td:nth-child(4)', (t) => t.map((x) => x.textContent ?? ''));
      assert.ok(reasons.includes('pending-work'), reasons.join(', '));
      assert.equal(await page.textContent('#conn'), 'live');
      assert.match((await page.textContent('#config')) ?? '', /policy default/);
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
      stopDemo();
      await demo;
    }
    assert.match(stdout, /left over: 0 server\(s\), 0 floating IP\(s\), 0 agent\(s\)/);
  });
});
