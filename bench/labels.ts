/**
 * `npm run bench:labels`: a labelled workload (small, large and GPU workflows) against two label-aware pools from a
 * pools file, next to one label-blind pool that sees the whole queue (what every Woodpecker autoscaler does today).
 * Virtual time, the unmodified engine, seed 1. Prints a table; `--json` prints the rows.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OptionValues } from '../src/config/types.js';
import { percentile } from '../src/sandbox/metrics.js';
import { simulate } from '../src/sandbox/simulate.js';
import { builtinWorkload } from '../src/sandbox/workloads.js';
import type { Workload } from '../src/sandbox/workloads.js';
import type { World } from '../src/sandbox/world.js';
import { seededRandom } from '../src/util/clock.js';

const M = 60_000;
const H = 60 * M;

export interface LabelRow {
  figure: string;
  target: string;
  measured: string;
  met?: boolean;
}

/** office-day's arrivals, each labelled size=small (65 %), size=large (30 %) or type=gpu (5 %, no pool runs it). */
export function labelledWorkload(span: number): Workload {
  const base = builtinWorkload('office-day', { seed: 1, span });
  const random = seededRandom(11);
  return {
    name: 'office-day-labelled',
    span: base.span,
    items: base.items.map((it) => {
      const r = random();
      const labels: Record<string, string> = r < 0.65 ? { size: 'small' } : r < 0.95 ? { size: 'large' } : { type: 'gpu' };
      return { ...it, labels };
    }),
  };
}

interface PerClass {
  n: number;
  waitP95: number;
  unfinished: number;
}

function classOf(labels: Readonly<Record<string, string>>): string {
  return labels.type === 'gpu' ? 'gpu' : (labels.size ?? '?');
}

async function run(workload: Workload, values: OptionValues): Promise<{ world: World; byClass: Map<string, PerClass>; vms: Map<string, { n: number; hours: number }> }> {
  let world: World | undefined;
  let end = 0;
  await simulate({
    workload,
    values,
    seed: 1,
    tail: 30 * M,
    maxOvertime: 2 * H,
    setup: (w, clock) => {
      world = w;
      w.onEvent((e) => {
        if (e.kind === 'server-deleted') end = Math.max(end, clock.now());
      });
    },
  });
  if (!world) throw new Error('no world');
  const st = world.woodpecker.state();
  const byClass = new Map<string, PerClass>();
  const waits = new Map<string, number[]>();
  const unfinished = (labels: Readonly<Record<string, string>>): void => {
    const c = classOf(labels);
    const e = byClass.get(c) ?? { n: 0, waitP95: 0, unfinished: 0 };
    e.unfinished++;
    byClass.set(c, e);
  };
  for (const w of st.completed) {
    if (w.status === 'cancelled' || w.startedAt === undefined) {
      unfinished(w.labels);
      continue;
    }
    const c = classOf(w.labels);
    waits.set(c, [...(waits.get(c) ?? []), w.startedAt - w.queuedAt]);
  }
  for (const w of [...st.pending, ...st.waitingOnDeps, ...st.running]) unfinished(w.labels);
  for (const [c, list] of waits) {
    const e = byClass.get(c) ?? { n: 0, waitP95: 0, unfinished: 0 };
    e.n = list.length;
    e.waitP95 = percentile(list, 95);
    byClass.set(c, e);
  }
  const vms = new Map<string, { n: number; hours: number }>();
  for (const v of world.vms()) {
    const pool = /^pool-([^-]+)-agent-/.exec(v.name)?.[1] ?? '?';
    const e = vms.get(pool) ?? { n: 0, hours: 0 };
    e.n++;
    e.hours += ((v.deletedAt ?? end) - v.createdAt) / H;
    vms.set(pool, e);
  }
  return { world, byClass, vms };
}

export async function labelBench(span = 12 * H): Promise<LabelRow[]> {
  const workload = labelledWorkload(span);
  const dir = mkdtempSync(join(tmpdir(), 'bench-labels-'));
  try {
    const file = join(dir, 'pools.yaml');
    writeFileSync(
      file,
      'pools:\n  - id: small\n    max-agents: 6\n    agent-labels: size=small\n' +
        '  - id: large\n    max-agents: 4\n    workflows-per-agent: 1\n    agent-labels: size=large\n',
    );
    const pools = await run(workload, { poolsFile: file });
    // One pool that cannot tell the labels apart: agents labelled size=small, the whole queue counted.
    const blind = await run(workload, { poolId: 'blind', agentLabels: ['size=small'], maxAgents: 10 });
    const rows: LabelRow[] = [];
    const count = (c: string): number => workload.items.filter((i) => classOf(i.labels ?? {}) === c).length;
    rows.push({
      figure: `labelled office-day (${workload.items.length} workflows: ${count('small')} small, ${count('large')} large, ${count('gpu')} gpu)`,
      target: '',
      measured: '',
    });
    for (const [pool, v] of [...pools.vms.entries()].sort()) {
      rows.push({ figure: `  two pools: pool ${pool} — VMs created / VM-hours`, target: '(info)', measured: `${v.n} / ${v.hours.toFixed(1)} h` });
    }
    const gpuVms = [...pools.vms.keys()].filter((p) => p !== 'small' && p !== 'large').length;
    rows.push({ figure: '  two pools: VMs created for work no pool can run (gpu)', target: '= 0', measured: String(gpuVms), met: gpuVms === 0 });
    for (const c of ['small', 'large', 'gpu']) {
      const p = pools.byClass.get(c);
      const b = blind.byClass.get(c);
      rows.push({
        figure: `  ${c} workflows: done, wait p95 — two pools | one label-blind pool`,
        target: '(info)',
        measured:
          `${p?.n ?? 0} done, ${((p?.waitP95 ?? 0) / 1000).toFixed(1)} s` +
          ` | ${b?.n ?? 0} done (${b?.unfinished ?? 0} never ran), ${((b?.waitP95 ?? 0) / 1000).toFixed(1)} s`,
      });
    }
    const bv = blind.vms.get('blind') ?? { n: 0, hours: 0 };
    rows.push({ figure: '  one label-blind pool: VMs created / VM-hours', target: '(info)', measured: `${bv.n} / ${bv.hours.toFixed(1)} h` });
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const rows = await labelBench();
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else for (const r of rows) process.stdout.write(`${r.figure.padEnd(78)} ${r.target.padEnd(8)} ${r.measured}${r.met === undefined ? '' : r.met ? '  met' : '  MISSED'}\n`);
}
