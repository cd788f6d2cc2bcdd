/**
 * `npm run bench:labels`: a labelled workload (small, large and GPU workflows) against two label-aware pools from a
 * pools file (small and large machines), next to one label-blind pool that counts the whole queue — what every
 * Woodpecker autoscaler does today — with the upstream policy and with ours. The label-blind runs are exactly
 * `twcloud-scaler simulate --pools-file F --compare upstream|default` (src/sandbox/label-blind.ts). Virtual time, the
 * unmodified engine, seed 1. Prints a table; `--json` prints the rows.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimulationResult } from '../src/sandbox/result.js';
import { simulate } from '../src/sandbox/simulate.js';
import { builtinWorkload } from '../src/sandbox/workloads.js';
import type { Workload } from '../src/sandbox/workloads.js';
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

/** Small machines (2 CPU / 2 GB, preset 2451) for size=small, large ones (4 CPU / 8 GB, preset 2455) for size=large. */
export const LABEL_BENCH_POOLS =
  'pools:\n' +
  '  - id: small\n    max-agents: 6\n    agent-labels: size=small\n    timewebcloud-preset-id: 2451\n' +
  '  - id: large\n    max-agents: 4\n    workflows-per-agent: 1\n    agent-labels: size=large\n    timewebcloud-preset-id: 2455\n';

const s1 = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

export async function labelBench(span = 12 * H): Promise<LabelRow[]> {
  const workload = labelledWorkload(span);
  const dir = mkdtempSync(join(tmpdir(), 'bench-labels-'));
  try {
    const file = join(dir, 'pools.yaml');
    writeFileSync(file, LABEL_BENCH_POOLS);
    const common = { workload, values: { poolsFile: file }, seed: 1, tail: 30 * M, maxOvertime: 2 * H };
    const runs: [string, SimulationResult][] = [
      ['two pools', await simulate({ ...common, label: 'two pools' })],
      ['label-blind upstream', await simulate({ ...common, label: 'label-blind upstream', labelBlind: 'upstream' })],
      ['label-blind default', await simulate({ ...common, label: 'label-blind default', labelBlind: 'default' })],
    ];
    const rows: LabelRow[] = [];
    const count = (c: string): number => runs[0]?.[1].labelClasses.find((k) => k.labels === c)?.queued ?? 0;
    rows.push({
      figure: `labelled office-day (${workload.items.length} workflows: ${count('size=small')} small, ${count('size=large')} large, ${count('type=gpu')} gpu)`,
      target: '',
      measured: '',
    });
    for (const [name, r] of runs) {
      for (const p of r.pools) {
        rows.push({
          figure: `  ${name}: pool ${p.id} — VMs created / VM-hours / cost`,
          target: '(info)',
          measured: `${p.vmsCreated} / ${p.vmHours.toFixed(1)} h / ${p.cost.toFixed(2)} ${r.cost.currency} (${p.perHour.toFixed(2)}/h)`,
        });
      }
      const cannot = r.pools.reduce((n, p) => n + p.vmsForWorkItCannotRun, 0);
      rows.push({
        figure: `  ${name}: VMs created for work their pool cannot run`,
        target: name === 'two pools' ? '= 0' : '(info)',
        measured: String(cannot),
        ...(name === 'two pools' ? { met: cannot === 0 } : {}),
      });
      rows.push({
        figure: `  ${name}: cost, left over at the end`,
        target: '(info)',
        measured: `${r.cost.total.toFixed(2)} ${r.cost.currency}, ${r.leftover.servers} server(s)`,
      });
    }
    for (const [name, r] of runs) {
      rows.push({
        figure: `  ${name}: small · large · gpu workflows done, wait p95`,
        target: '(info)',
        measured: ['size=small', 'size=large', 'type=gpu']
          .map((c) => {
            const k = r.labelClasses.find((x) => x.labels === c);
            return `${k?.completed ?? 0} of ${k?.queued ?? 0}, ${s1(k?.waitP95)}`;
          })
          .join(' · '),
      });
    }
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
