import { allOptionSpecs } from '../config/sections.js';
import type { SimulationResult, SimulationSeries } from './result.js';

/** Terminal table, JSON and a self-contained HTML report (inline SVG plots) for simulation results. */

function dur(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(s / 3600);
  return `${h}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function money(n: number, currency: string): string {
  return `${n.toFixed(2)} ${currency}`;
}

function num(n: number, digits = 0): string {
  return n.toFixed(digits);
}

interface Row {
  label: string;
  values: string[];
  /** raw numbers for the ratio column (second / first) */
  raw?: number[];
}

function rows(results: readonly SimulationResult[]): Row[] {
  const r = (label: string, f: (x: SimulationResult) => string, raw?: (x: SimulationResult) => number): Row => {
    const row: Row = { label, values: results.map(f) };
    if (raw) row.raw = results.map(raw);
    return row;
  };
  const out: Row[] = [
    r('policy', (x) => x.policy),
    r('workflows completed', (x) => `${x.workflows.completed} / ${x.workflows.queued}`),
    r('unfinished', (x) => String(x.workflows.unfinished)),
    r('restarted (agent died)', (x) => String(x.workflows.restarted)),
    r('queue wait p50', (x) => dur(x.queueWait.p50), (x) => x.queueWait.p50),
    r('queue wait p95', (x) => dur(x.queueWait.p95), (x) => x.queueWait.p95),
    r('queue wait max', (x) => dur(x.queueWait.max), (x) => x.queueWait.max),
    r('VMs created', (x) => String(x.vms.created), (x) => x.vms.created),
    r('VMs without agent', (x) => String(x.vms.withoutAgent)),
    r('peak servers', (x) => String(x.vms.peak), (x) => x.vms.peak),
    r('VM-hours', (x) => num(x.vms.hours, 1), (x) => x.vms.hours),
    r('boot → agent p50/p95', (x) => `${dur(x.vms.bootP50)} / ${dur(x.vms.bootP95)}`),
    r('cost', (x) => money(x.cost.total, x.cost.currency), (x) => x.cost.total),
    r('cost per workflow', (x) => money(x.cost.perWorkflow, x.cost.currency), (x) => x.cost.perWorkflow),
    r('billing', (x) =>
      x.pools.length > 1 ? 'every pool at its own price' : `${x.cost.billing}, ${num(x.cost.perHour, 2)} ${x.cost.currency}/h`,
    ),
    r('left over', (x) =>
      [
        `${x.leftover.servers} server(s)`,
        x.leftover.serversWithoutAgent ? `${x.leftover.serversWithoutAgent} without agent` : '',
        x.leftover.agentsWithoutServer ? `${x.leftover.agentsWithoutServer} ghost agent(s)` : '',
        `${x.leftover.unattachedFloatingIps} loose IP(s)`,
        x.leftover.foreignTouched.length ? `FOREIGN TOUCHED: ${x.leftover.foreignTouched.length}` : '',
      ]
        .filter((s) => s !== '')
        .join(', '),
    ),
    r('ticks (full / scale-up / errors)', (x) => `${x.ticks.full} / ${x.ticks.scaleUp} / ${x.ticks.withErrors}`),
    r('API calls', (x) => String(Object.values(x.apiCalls).reduce((a, b) => a + b, 0)), (x) =>
      Object.values(x.apiCalls).reduce((a, b) => a + b, 0),
    ),
    r('simulated / wall time', (x) => `${dur(x.simulatedMs)} / ${x.wallMs === undefined ? '—' : `${(x.wallMs / 1000).toFixed(1)}s`}`),
  ];
  if (showsPools(results)) out.splice(out.findIndex((x) => x.label === 'billing') + 1, 0, ...poolRows(results));
  return out;
}

/** Whether the report has per-pool and per-label rows: several pools, or labelled work, in some run. */
export function showsPools(results: readonly SimulationResult[]): boolean {
  return results.some((x) => x.pools.length > 1 || x.unservable > 0 || x.labelClasses.some((c) => c.labels !== ''));
}

/** Per pool (VMs, VM-hours, cost at its own price), per label class (done, wait p95) and the label figures. */
function poolRows(results: readonly SimulationResult[]): Row[] {
  const out: Row[] = [];
  const ids = [...new Set(results.flatMap((x) => x.pools.map((p) => p.id)))];
  for (const id of ids) {
    const labels = results.flatMap((x) => x.pools.filter((p) => p.id === id).map((p) => p.agentLabels))[0] ?? '';
    out.push({
      label: `pool ${id} (${labels || 'no labels'}): VMs, VM-hours, cost`,
      values: results.map((x) => {
        const p = x.pools.find((q) => q.id === id);
        return p ? `${p.vmsCreated}, ${num(p.vmHours, 1)} h, ${money(p.cost, x.cost.currency)} (${p.billing}, ${num(p.perHour, 2)}/h)` : '—';
      }),
    });
  }
  const cannot = (x: SimulationResult): number => x.pools.reduce((n, p) => n + p.vmsForWorkItCannotRun, 0);
  out.push({
    label: 'VMs created for work the pool cannot run',
    values: results.map((x) => {
      const by = x.pools.filter((p) => p.vmsForWorkItCannotRun > 0).map((p) => `${p.id} ${p.vmsForWorkItCannotRun}`);
      return by.length > 0 && x.pools.length > 1 ? `${cannot(x)} (${by.join(', ')})` : String(cannot(x));
    }),
    raw: results.map(cannot),
  });
  out.push({ label: 'workflows no pool can run', values: results.map((x) => String(x.unservable)), raw: results.map((x) => x.unservable) });
  const classes = [...new Set(results.flatMap((x) => x.labelClasses.map((c) => c.labels)))].sort();
  for (const key of classes) {
    out.push({
      label: `${key || 'no labels'}: done, wait p95`,
      values: results.map((x) => {
        const c = x.labelClasses.find((k) => k.labels === key);
        if (!c) return '—';
        return `${c.completed} / ${c.queued}, ${c.waitP95 === null ? 'never started' : dur(c.waitP95)}`;
      }),
    });
  }
  return out;
}

function keysOf(results: readonly SimulationResult[], pick: (x: SimulationResult) => Record<string, number>): string[] {
  return [...new Set(results.flatMap((x) => Object.keys(pick(x))))].sort();
}

function ratio(row: Row): string {
  const [a, b] = row.raw ?? [];
  if (a === undefined || b === undefined) return '';
  if (a === 0) return b === 0 ? '1.00×' : '—';
  return `${(b / a).toFixed(2)}×`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** A plain-text table: one column per run; with two runs a ratio column (second ÷ first). */
export function formatTable(results: readonly SimulationResult[]): string {
  if (results.length === 0) return '';
  const first = results[0] as SimulationResult;
  const header = ['', ...results.map((x) => x.label)];
  const withRatio = results.length === 2;
  if (withRatio) header.push(`${results[1]?.label ?? ''} ÷ ${first.label}`);
  const body: string[][] = [];
  for (const row of rows(results)) body.push([row.label, ...row.values, ...(withRatio ? [ratio(row)] : [])]);
  const section = (title: string, pick: (x: SimulationResult) => Record<string, number>): void => {
    const keys = keysOf(results, pick);
    if (keys.length === 0) return;
    body.push([`${title}:`, ...results.map(() => ''), ...(withRatio ? [''] : [])]);
    for (const k of keys) {
      const row: Row = { label: `  ${k}`, values: results.map((x) => String(pick(x)[k] ?? 0)), raw: results.map((x) => pick(x)[k] ?? 0) };
      body.push([row.label, ...row.values, ...(withRatio ? [ratio(row)] : [])]);
    }
  };
  section('actions', (x) => x.actions);
  section('action problems', (x) => x.actionProblems);
  section('API calls', (x) => x.apiCalls);
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => pad(c, widths[i] ?? 0)).join('  ').trimEnd();
  const title =
    `workload ${first.workload.name}: ${first.workload.workflows} workflows over ${dur(first.workload.spanMs)}, seed ${first.seed}`;
  return [title, '', line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** Pretty JSON: one result, or `{runs: [...]}` for a comparison. */
export function formatJson(results: readonly SimulationResult[]): string {
  return JSON.stringify(results.length === 1 ? results[0] : { runs: results }, null, 2);
}

/** Settings the simulator reports that are not options of the configuration table: the `simulate` flag or a phrase. */
const SIMULATOR_SETTING_LABELS: Readonly<Record<string, string>> = {
  billing: '--timewebcloud-billing',
  price: 'price per server',
  priceOverride: '--price-per-hour',
  bootDelay: '--boot-delay',
  agentStartDelay: '--agent-start-delay',
  imageAgentStartDelay: '--image-agent-start-delay',
  bootPath: 'boot path',
  pools: 'pools',
  labelBlind: 'label-blind pool',
  neverBootRate: '--never-boot-rate',
  agentDeathRate: '--agent-death-rate',
};

/** The user-facing name of a reported setting: its flag from the configuration table (`maxAgents` → `--max-agents`). */
export function settingLabel(key: string): string {
  const spec = allOptionSpecs().find((o) => o.key === key);
  if (spec) return `--${spec.flag}`;
  return SIMULATOR_SETTING_LABELS[key] ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * One sentence with the result: what completed, the queue wait and the cost; for two runs, how the second compares
 * with the first.
 */
export function headline(results: readonly SimulationResult[]): string {
  const [a, b] = results;
  if (!a) return '';
  const one = (x: SimulationResult): string => {
    const w = x.workflows;
    const done = w.completed === w.queued ? `all ${w.queued} workflows completed` : `${w.completed} of ${w.queued} workflows completed`;
    const left = x.leftover.servers + x.leftover.unattachedFloatingIps + x.leftover.agentsWithoutServer;
    return (
      `${done}; queue wait ${dur(x.queueWait.p50)} median, ${dur(x.queueWait.p95)} at the 95th percentile; ` +
      `${x.vms.created} server(s) created (at most ${x.vms.peak} at once) for ${money(x.cost.total, x.cost.currency)}` +
      (left === 0 && x.leftover.foreignTouched.length === 0 ? '; nothing left over' : `; ${left} resource(s) left over`)
    );
  };
  const labelled = showsPools(results);
  const cannot = (x: SimulationResult): string => {
    const n = x.pools.reduce((k, p) => k + p.vmsForWorkItCannotRun, 0);
    return `${n} server(s) created for work its pool cannot run, ${x.unservable} workflow(s) no pool can run`;
  };
  if (!b || results.length !== 2) {
    const s = one(a) + (labelled ? `; ${cannot(a)}` : '');
    return `${a.label}: ${s.charAt(0).toUpperCase()}${s.slice(1)}.`;
  }
  const cmp = (x: number, y: number, what: string, f: (n: number) => string): string => {
    if (x === y) return `the same ${what} (${f(x)})`;
    const more = y > x;
    const pct = x === 0 ? '' : ` (${Math.round((Math.abs(y - x) / x) * 100)} % ${more ? 'more' : 'less'})`;
    return `${what} ${f(y)} instead of ${f(x)}${pct}`;
  };
  return (
    `${b.label} compared with ${a.label}: ` +
    `${cmp(a.queueWait.p95, b.queueWait.p95, '95th-percentile queue wait', dur)}, ` +
    `${cmp(a.cost.total, b.cost.total, 'cost', (n) => money(n, a.cost.currency))}, ` +
    `${cmp(a.vms.created, b.vms.created, 'servers created', String)}; ` +
    `${b.workflows.completed} / ${b.workflows.queued} workflows completed (${a.workflows.completed} / ${a.workflows.queued})` +
    (labelled ? `; ${cannot(b)} (${a.label}: ${cannot(a)})` : '') +
    '.'
  );
}

// ---- HTML -------------------------------------------------------------------------------------------------------

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

interface Line {
  name: string;
  color: string;
  values: number[];
}

const W = 560;
const H = 220;
const M = { l: 48, r: 12, t: 36, b: 28 };

/**
 * Reduces a series to at most `max` points: bucket maximum for lines (spikes stay visible), bucket mean for stacked
 * areas (so the stack still adds up).
 */
function downsample(t: readonly number[], lines: readonly Line[], stacked: boolean, max = 500): { t: number[]; lines: Line[] } {
  if (t.length <= max) return { t: [...t], lines: lines.map((l) => ({ ...l, values: [...l.values] })) };
  const step = Math.ceil(t.length / max);
  const tt: number[] = [];
  const out = lines.map((l) => ({ ...l, values: [] as number[] }));
  for (let i = 0; i < t.length; i += step) {
    tt.push(t[i] ?? 0);
    lines.forEach((l, k) => {
      const end = Math.min(t.length, i + step);
      let m = -Infinity;
      let sum = 0;
      for (let j = i; j < end; j++) {
        m = Math.max(m, l.values[j] ?? 0);
        sum += l.values[j] ?? 0;
      }
      out[k]?.values.push(stacked ? sum / (end - i) : m);
    });
  }
  return { t: tt, lines: out };
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** The smallest whole step among 1, 2, 5, 10, 20, 25, 50, … that splits `max` into at most 5 parts. */
export function integerStep(max: number): number {
  for (let p = 1; ; p *= 10) for (const m of [1, 2, 2.5, 5]) if (Number.isInteger(m * p) && max / (m * p) <= 5) return m * p;
}

function hoursLabel(sec: number): string {
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  return `${h}:${String(m).padStart(2, '0')}`;
}

/** An SVG line chart (or stacked areas). `t` in seconds since the start. */
export function svgChart(opts: {
  title: string;
  t: readonly number[];
  lines: readonly Line[];
  stacked?: boolean;
  yMax?: number;
  unit?: string;
  /** Counts (workflows, agents): whole-number ticks only. */
  integer?: boolean;
}): string {
  const { t, lines } = downsample(opts.t, opts.lines, opts.stacked === true);
  const tMax = Math.max(1, t[t.length - 1] ?? 1);
  const stackedTotals = t.map((_, i) => lines.reduce((a, l) => a + (l.values[i] ?? 0), 0));
  const rawMax = opts.stacked ? Math.max(0, ...stackedTotals) : Math.max(0, ...lines.flatMap((l) => l.values));
  const wanted = opts.yMax ?? niceMax(rawMax);
  // Whole-number steps for counts (1, 2, 5, 10, 20, 25, 50, …), at most 5 of them.
  const step = opts.integer ? integerStep(wanted) : wanted / 4;
  const yMax = opts.integer ? Math.max(step, Math.ceil(wanted / step) * step) : wanted;
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const x = (sec: number): number => M.l + (sec / tMax) * pw;
  const y = (v: number): number => M.t + ph - (Math.min(v, yMax) / yMax) * ph;
  const f = (n: number): string => n.toFixed(1);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(opts.title)}">`);
  parts.push(`<text x="${M.l}" y="15" class="title">${esc(opts.title)}</text>`);
  // grid + axes
  for (let k = 0; k * step <= yMax + 1e-9; k++) {
    const v = k * step;
    const yy = y(v);
    parts.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${f(yy)}" y2="${f(yy)}" class="grid"/>`);
    const label = Number.isInteger(v) ? String(v) : v.toFixed(1);
    parts.push(`<text x="${M.l - 4}" y="${f(yy + 3)}" text-anchor="end" class="tick">${esc(label)}</text>`);
  }
  const hourStep = tMax > 36 * 3600 ? 6 : tMax > 12 * 3600 ? 3 : tMax > 4 * 3600 ? 1 : tMax > 3600 ? 0.5 : 0.25;
  for (let s = 0; s <= tMax; s += hourStep * 3600) {
    parts.push(`<text x="${f(x(s))}" y="${H - 10}" text-anchor="middle" class="tick">${hoursLabel(s)}</text>`);
  }
  parts.push(`<line x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${M.t + ph}" class="axis"/>`);
  parts.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${M.t + ph}" y2="${M.t + ph}" class="axis"/>`);
  if (opts.stacked) {
    const base = t.map(() => 0);
    for (const l of lines) {
      const top = base.map((b, i) => b + (l.values[i] ?? 0));
      // step areas: values hold until the next sample
      const upper: string[] = [];
      const lower: string[] = [];
      t.forEach((sec, i) => {
        const next = t[i + 1] ?? sec;
        upper.push(`${f(x(sec))},${f(y(top[i] ?? 0))}`, `${f(x(next))},${f(y(top[i] ?? 0))}`);
        lower.push(`${f(x(sec))},${f(y(base[i] ?? 0))}`, `${f(x(next))},${f(y(base[i] ?? 0))}`);
      });
      parts.push(`<polygon points="${[...upper, ...lower.reverse()].join(' ')}" fill="${l.color}" fill-opacity="0.75" stroke="none"><title>${esc(l.name)}</title></polygon>`);
      top.forEach((v, i) => (base[i] = v));
    }
  } else {
    for (const l of lines) {
      const pts = t.map((sec, i) => `${f(x(sec))},${f(y(l.values[i] ?? 0))}`).join(' ');
      parts.push(`<polyline points="${pts}" fill="none" stroke="${l.color}" stroke-width="1.6"><title>${esc(l.name)}</title></polyline>`);
    }
  }
  // legend
  let lx = M.l;
  for (const l of lines) {
    parts.push(`<rect x="${lx}" y="20" width="10" height="10" fill="${l.color}"/>`);
    parts.push(`<text x="${lx + 14}" y="29" class="legend">${esc(l.name)}</text>`);
    lx += 22 + l.name.length * 6.5;
  }
  if (opts.unit) parts.push(`<text x="${W - M.r}" y="15" text-anchor="end" class="tick">${esc(opts.unit)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

const RUN_COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706'];

function queueChart(r: SimulationResult, yMax: number): string {
  const s = r.series;
  return svgChart({
    title: `Queue — ${r.label}`,
    t: s.t,
    yMax,
    integer: true,
    lines: [
      { name: 'pending', color: '#dc2626', values: s.pending },
      { name: 'running', color: '#2563eb', values: s.running },
    ],
  });
}

function agentsChart(r: SimulationResult, yMax: number): string {
  const s = r.series;
  return svgChart({
    title: `Agents by state — ${r.label}`,
    t: s.t,
    stacked: true,
    yMax,
    integer: true,
    lines: [
      { name: 'busy', color: '#2563eb', values: s.busy },
      { name: 'idle', color: '#10b981', values: s.idle },
      { name: 'booting', color: '#f59e0b', values: s.booting },
      { name: 'drained', color: '#8b5cf6', values: s.drained },
      { name: 'lost', color: '#6b7280', values: s.lost },
    ],
  });
}

function seriesMax(rs: readonly SimulationResult[], pick: (s: SimulationSeries, i: number) => number): number {
  let m = 0;
  for (const r of rs) for (let i = 0; i < r.series.t.length; i++) m = Math.max(m, pick(r.series, i));
  return niceMax(m);
}

/** A self-contained HTML page: summary table, then queue, agents and cost plots (runs side by side). */
export function renderHtml(results: readonly SimulationResult[], opts: { title?: string } = {}): string {
  const first = results[0];
  if (!first) return '<!doctype html><title>no results</title>';
  const title = opts.title ?? `twcloud-scaler simulation: ${first.workload.name}`;
  const qMax = seriesMax(results, (s, i) => Math.max(s.pending[i] ?? 0, s.running[i] ?? 0));
  const aMax = seriesMax(results, (s, i) =>
    ['busy', 'idle', 'booting', 'drained', 'lost'].reduce(
      (a, k) => a + ((s[k as keyof SimulationSeries] as number[])[i] ?? 0),
      0,
    ),
  );
  const table = rows(results);
  const withRatio = results.length === 2;
  const th = ['', ...results.map((r) => r.label), ...(withRatio ? [`${results[1]?.label ?? ''} ÷ ${first.label}`] : [])];
  const tableHtml = [
    '<table><thead><tr>',
    ...th.map((h) => `<th>${esc(h)}</th>`),
    '</tr></thead><tbody>',
    ...table.map(
      (row) =>
        `<tr><td>${esc(row.label)}</td>${row.values.map((v) => `<td>${esc(v)}</td>`).join('')}${withRatio ? `<td>${esc(ratio(row))}</td>` : ''}</tr>`,
    ),
    '</tbody></table>',
  ].join('');
  const detail = (name: string, pick: (x: SimulationResult) => Record<string, number>): string => {
    const keys = keysOf(results, pick);
    if (keys.length === 0) return '';
    return [
      `<h3>${esc(name)}</h3><table><thead><tr><th></th>`,
      ...results.map((r) => `<th>${esc(r.label)}</th>`),
      '</tr></thead><tbody>',
      ...keys.map((k) => `<tr><td>${esc(k)}</td>${results.map((r) => `<td>${pick(r)[k] ?? 0}</td>`).join('')}</tr>`),
      '</tbody></table>',
    ].join('');
  };
  const costChart = svgChart({
    title: 'Cumulative cost',
    t: results.reduce<number[]>((best, r) => (r.series.t.length > best.length ? r.series.t : best), []),
    unit: first.cost.currency,
    lines: results.map((r, i) => ({
      name: r.label,
      color: RUN_COLORS[i % RUN_COLORS.length] ?? '#000',
      values: r.series.cost,
    })),
  });
  const settings = results
    .map(
      (r) =>
        `<div><h3>${esc(r.label)}</h3><ul>${Object.entries(r.settings)
          .map(([k, v]) => `<li><code>${esc(settingLabel(k))}</code> = ${esc(String(v))}</li>`)
          .join('')}</ul></div>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#111;max-width:1200px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}h3{font-size:14px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #e5e7eb;text-align:left;font-variant-numeric:tabular-nums}
th{background:#f3f4f6}.row{display:flex;flex-wrap:wrap;gap:16px}
svg{background:#fff;border:1px solid #e5e7eb;border-radius:4px}
svg .title{font-size:12px;font-weight:600}svg .tick,svg .legend{font-size:10px;fill:#374151}
.headline{font-size:16px;font-weight:600}svg .grid{stroke:#e5e7eb}svg .axis{stroke:#9ca3af}code{background:#f3f4f6;padding:0 3px}
</style></head><body>
<h1>${esc(title)}</h1>
<p class="headline">${esc(headline(results))}</p>
<p>Workload <b>${esc(first.workload.name)}</b>: ${first.workload.workflows} workflows over ${esc(dur(first.workload.spanMs))}; seed ${first.seed}.</p>
<h2>Summary</h2>${tableHtml}
<h2>Queue length</h2><div class="row">${results.map((r) => queueChart(r, qMax)).join('')}</div>
<h2>Agents by state</h2><div class="row">${results.map((r) => agentsChart(r, aMax)).join('')}</div>
<h2>Cumulative cost</h2><div class="row">${costChart}</div>
<h2>Details</h2>${detail('Actions (done)', (x) => x.actions)}${detail('Action problems', (x) => x.actionProblems)}${detail('API calls', (x) => x.apiCalls)}
<h2>Settings</h2><div class="row">${settings}</div>
</body></html>
`;
}
