import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { billedHours, costAt, peakConcurrent, percentile, vmHours } from '../../src/sandbox/metrics.js';
import { formatJson, formatTable, headline, integerStep, renderHtml, settingLabel, svgChart } from '../../src/sandbox/report.js';
import type { SimulationResult } from '../../src/sandbox/result.js';

const H = 3_600_000;

describe('metrics', () => {
  it('percentile (nearest rank)', () => {
    const cases: [number[], number, number][] = [
      [[], 50, 0],
      [[5], 95, 5],
      [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5],
      [[10, 9, 8, 7, 6, 5, 4, 3, 2, 1], 95, 10],
      [[1, 2, 3, 4], 0, 1],
    ];
    for (const [vals, p, want] of cases) assert.equal(percentile(vals, p), want, `${p} of ${vals.join(',')}`);
  });

  it('hourly billing pays every started hour; per-second pays exactly', () => {
    const cases: [number, number, number][] = [
      // ms alive, hourly hours, per-second hours
      [1_000, 1, 1 / 3600],
      [H, 1, 1],
      [H + 1_000, 2, 1 + 1 / 3600],
      [2.5 * H, 3, 2.5],
    ];
    for (const [ms, hourly, perSecond] of cases) {
      assert.equal(billedHours(ms, 'hourly'), hourly, `hourly ${ms}`);
      assert.ok(Math.abs(billedHours(ms, 'per-second') - perSecond) < 1e-9, `per-second ${ms}`);
      const life = [{ name: 'a', createdAt: 0, deletedAt: ms }];
      assert.equal(costAt(life, 10 * H, 2, 'hourly'), 2 * hourly);
      assert.ok(Math.abs(costAt(life, 10 * H, 2, 'per-second') - 2 * perSecond) < 1e-9);
    }
  });

  it('cumulative cost grows as hours start; peak and VM-hours', () => {
    const lives = [
      { name: 'a', createdAt: 0, deletedAt: 90 * 60_000 },
      { name: 'b', createdAt: 30 * 60_000 },
      { name: 'c', createdAt: 90 * 60_000, deletedAt: 100 * 60_000 },
    ];
    assert.equal(costAt(lives, 0, 1, 'hourly'), 1);
    assert.equal(costAt(lives, 30 * 60_000, 1, 'hourly'), 2);
    assert.equal(costAt(lives, 61 * 60_000, 1, 'hourly'), 3);
    assert.equal(costAt(lives, 2 * H, 1, 'hourly'), 2 + 2 + 1);
    assert.equal(peakConcurrent(lives, 2 * H), 2, 'a ends when c starts');
    assert.equal(vmHours(lives, 2 * H), 1.5 + 1.5 + 10 / 60);
  });
});

function fake(label: string, cost: number, p95: number): SimulationResult {
  return {
    label,
    policy: label === 'upstream' ? 'upstream' : 'default',
    seed: 1,
    workload: { name: 'steady', workflows: 3, spanMs: H },
    settings: { minAgents: 0, note: '<b>&' },
    startedAt: 0,
    simulatedMs: 2 * H,
    wallMs: 1234,
    workflows: { queued: 3, completed: 3, unfinished: 0, restarted: 0 },
    queueWait: { p50: 1_000, p95, max: p95, mean: 2_000 },
    vms: { created: 2, peak: 2, hours: 1.5, withAgent: 2, withoutAgent: 0, bootP50: 90_000, bootP95: 120_000 },
    cost: { total: cost, perWorkflow: cost / 10, currency: 'RUB', billing: 'hourly', perHour: 1.5, description: 'preset 1' },
    leftover: { servers: 0, serversWithoutAgent: 0, agentsWithoutServer: 0, unattachedFloatingIps: 0, foreignTouched: [] },
    apiCalls: { 'timeweb POST /api/v1/servers': 2 },
    actions: { 'create pending-work': 2 },
    actionProblems: {},
    ticks: { full: 120, scaleUp: 3, withErrors: 0 },
    pools: [
      { id: '1', agentLabels: '', vmsCreated: 2, vmHours: 1.5, cost, perHour: 1.5, billing: 'hourly', priceDescription: 'preset 1', vmsForWorkItCannotRun: 0 },
    ],
    labelClasses: [{ labels: '', queued: 3, completed: 3, unfinished: 0, waitP95: p95, unservable: 0 }],
    unservable: 0,
    series: {
      t: [0, 60, 120],
      pending: [0, 2, 0],
      running: [0, 1, 3],
      booting: [0, 1, 0],
      idle: [0, 0, 0],
      busy: [0, 1, 2],
      drained: [0, 0, 0],
      lost: [0, 0, 0],
      servers: [0, 2, 2],
      cost: [0, 3, cost],
    },
  };
}

describe('reports', () => {
  const a = fake('upstream', 10, 100_000);
  const b = fake('default', 6, 50_000);

  it('table: one column per run and a ratio column', () => {
    const t = formatTable([a, b]);
    assert.match(t, /upstream\s+default\s+default ÷ upstream/);
    assert.match(t, /queue wait p95\s+1m40s\s+50s\s+0\.50×/);
    assert.match(t, /cost\s+10\.00 RUB\s+6\.00 RUB\s+0\.60×/);
    assert.match(t, /create pending-work\s+2\s+2\s+1\.00×/);
    assert.doesNotMatch(formatTable([a]), /÷/);
  });

  it('table: per-pool and per-label rows only with several pools or labelled work, "—" where a run has no such pool', () => {
    assert.doesNotMatch(formatTable([a, b]), /pool 1|cannot run|no labels/);
    const pools: SimulationResult = {
      ...b,
      label: 'pools',
      pools: [
        { id: 'small', agentLabels: 'size=small', vmsCreated: 2, vmHours: 1.5, cost: 2, perHour: 1, billing: 'hourly', priceDescription: 'p', vmsForWorkItCannotRun: 0 },
        { id: 'large', agentLabels: 'size=large', vmsCreated: 1, vmHours: 1, cost: 3, perHour: 3, billing: 'hourly', priceDescription: 'p', vmsForWorkItCannotRun: 0 },
      ],
      labelClasses: [
        { labels: 'size=large', queued: 1, completed: 1, unfinished: 0, waitP95: 90_000, unservable: 0 },
        { labels: 'size=small', queued: 2, completed: 2, unfinished: 0, waitP95: 30_000, unservable: 0 },
      ],
    };
    const blind: SimulationResult = {
      ...b,
      label: 'blind',
      pools: [{ id: 'blind', agentLabels: 'size=small', vmsCreated: 4, vmHours: 3, cost: 4, perHour: 1, billing: 'hourly', priceDescription: 'p', vmsForWorkItCannotRun: 2 }],
      labelClasses: [
        { labels: 'size=large', queued: 1, completed: 0, unfinished: 1, waitP95: null, unservable: 1 },
        { labels: 'size=small', queued: 2, completed: 2, unfinished: 0, waitP95: 20_000, unservable: 0 },
      ],
      unservable: 1,
    };
    const t = formatTable([pools, blind]);
    assert.match(t, /billing\s+every pool at its own price\s+hourly, 1\.50 RUB\/h/);
    assert.match(t, /pool small \(size=small\): VMs, VM-hours, cost\s+2, 1\.5 h, 2\.00 RUB \(hourly, 1\.00\/h\)\s+—/);
    assert.match(t, /pool blind \(size=small\): VMs, VM-hours, cost\s+—\s+4, 3\.0 h, 4\.00 RUB/);
    assert.match(t, /VMs created for work the pool cannot run\s+0\s+2\s+—/);
    assert.match(t, /workflows no pool can run\s+0\s+1\s+—/);
    assert.match(t, /size=large: done, wait p95\s+1 \/ 1, 1m30s\s+0 \/ 1, never started/);
    assert.match(headline([pools, blind]), /2 server\(s\) created for work its pool cannot run, 1 workflow\(s\) no pool can run \(pools: 0 server/);
  });

  it('JSON: the result, or runs for a comparison', () => {
    assert.equal((JSON.parse(formatJson([a])) as SimulationResult).label, 'upstream');
    assert.equal((JSON.parse(formatJson([a, b])) as { runs: unknown[] }).runs.length, 2);
  });

  it('HTML: self-contained, with the three plots per run and escaped text', () => {
    const html = renderHtml([a, b]);
    assert.match(html, /^<!doctype html>/);
    assert.equal((html.match(/<svg /g) ?? []).length, 5, 'queue ×2, agents ×2, cost ×1');
    for (const title of ['Queue — upstream', 'Queue — default', 'Agents by state — default', 'Cumulative cost']) {
      assert.ok(html.includes(title), title);
    }
    assert.ok(html.includes('&lt;b&gt;&amp;'));
    assert.ok(!html.includes('<b>&'));
    // nothing loaded from elsewhere
    assert.doesNotMatch(html, /<(script|link|img)\b/);
    assert.doesNotMatch(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, ''), /https?:\/\//);
  });

  it('HTML: settings by their flag names, not the internal keys', () => {
    const r = { ...a, settings: { minAgents: 0, agentIdleTimeout: '5m', billing: 'hourly', bootDelay: '60s..120s', price: '1.58 RUB/h' } };
    const html = renderHtml([r]);
    for (const flag of ['--min-agents', '--agent-idle-timeout', '--timewebcloud-billing', '--boot-delay', 'price per server']) {
      assert.ok(html.includes(`<code>${flag}</code>`), flag);
    }
    assert.doesNotMatch(html, /<code>(minAgents|agentIdleTimeout|bootDelay)<\/code>/);
    assert.equal(settingLabel('timewebcloudIpv4Price'), '--timewebcloud-ipv4-price');
  });

  it('count axes have whole-number ticks only', () => {
    const cases: [number, number][] = [
      [1, 1],
      [3, 1],
      [5, 1],
      [6, 2],
      [12, 5],
      [25, 5],
      [40, 10],
      [120, 25],
    ];
    for (const [max, step] of cases) assert.equal(integerStep(max), step, `max ${max}`);
    for (const peak of [1, 2, 3, 7]) {
      const svg = svgChart({ title: 'q', t: [0, 60], integer: true, lines: [{ name: 'pending', color: '#000', values: [0, peak] }] });
      const ticks = [...svg.matchAll(/<text [^>]*text-anchor="end" class="tick">([^<]+)<\/text>/g)].map((m) => m[1] ?? '');
      assert.ok(ticks.length >= 2, svg);
      for (const t of ticks) assert.match(t, /^\d+$/, `tick ${t} with peak ${peak}`);
    }
    // the report's queue and agents charts use them
    const html = renderHtml([a]);
    assert.doesNotMatch(html.replace(/<svg[^]*?Cumulative cost[^]*?<\/svg>/, ''), /class="tick">\d+\.\d+</);
  });

  it('HTML: a headline sentence with the result', () => {
    assert.equal(
      headline([a]),
      'upstream: All 3 workflows completed; queue wait 1s median, 1m40s at the 95th percentile; 2 server(s) created (at most 2 at once) for 10.00 RUB; nothing left over.',
    );
    assert.equal(
      headline([a, b]),
      'default compared with upstream: 95th-percentile queue wait 50s instead of 1m40s (50 % less), cost 6.00 RUB instead of 10.00 RUB (40 % less), the same servers created (2); 3 / 3 workflows completed (3 / 3).',
    );
    assert.match(renderHtml([a, b]), /<p class="headline">default compared with upstream: /);
  });
});
