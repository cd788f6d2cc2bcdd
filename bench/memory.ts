import type { Sample } from './rss-child.js';
/**
 * 4. Daemon memory after 10 000 virtual ticks, for `npm run bench` (and alone: `npm run bench -- --only memory
 * [--ticks N]`). Two child processes run the bundled daemon (bench/rss-child.ts), GC exposed: one with
 * `--max-semi-space-size=1` as the Docker image and the systemd unit ship it (the target row), one with V8's default
 * young generation (information).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

/** A row of the benchmark table (the same shape as bench/run.ts prints). */
export interface MemoryRow {
  figure: string;
  target: string;
  measured: string;
  met?: boolean;
}

export interface MemRun {
  samples: Sample[];
  gcExposed: boolean;
  workflowsCompleted: number;
  vms: number;
}

function runChild(file: string, ticks: number, flags: string[]): Promise<MemRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...flags, file, String(ticks)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`memory child exited with ${String(code)}: ${err.trim()}`));
        return;
      }
      try {
        resolvePromise(JSON.parse(out.trim().split('\n').pop() ?? '') as MemRun);
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

/** Bundles the child like the production single-file bundle (no tsx loader in the measured process). */
function bundleChild(dir: string): string {
  const file = join(dir, 'rss-child.mjs');
  const res = spawnSync(
    process.execPath,
    [join(root, 'scripts/bundle.mjs'), '--entry', join(root, 'bench/rss-child.ts'), '--outfile', file],
    { encoding: 'utf8' },
  );
  if (res.status !== 0) throw new Error(`bundling the memory child failed: ${res.stderr}`);
  return file;
}

/** Starts both children at once (they run beside the rest of the benchmark); resolves to [shipped, V8 default]. */
export function startMemory(ticks: number): Promise<[MemRun, MemRun]> {
  const dir = mkdtempSync(join(tmpdir(), 'twcloud-bench-'));
  let runs: Promise<[MemRun, MemRun]>;
  try {
    const child = bundleChild(dir);
    runs = Promise.all([
      runChild(child, ticks, ['--expose-gc', '--max-semi-space-size=1']),
      runChild(child, ticks, ['--expose-gc']),
    ]);
  } catch (e) {
    runs = Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
  const done = runs.finally(() => rmSync(dir, { recursive: true, force: true }));
  done.catch(() => undefined);
  return done;
}

const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;
const range = (xs: number[]): string => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} MB`;

/** The table rows of both runs (or one row saying why memory was not measured). */
export async function memoryRows(runs: Promise<[MemRun, MemRun]>): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = [];
  try {
    const [capped, plain] = await runs;
    for (const [label, run] of [
      ['', capped],
      [' (V8 default young generation, without --max-semi-space-size=1)', plain],
    ] as const) {
      const first = run.samples[0];
      const last = run.samples.at(-1);
      const warm = run.samples[1] ?? first;
      if (!first || !last || !warm) throw new Error('no memory samples');
      const shipped = label === '';
      const maxRss = Math.max(...run.samples.map((s) => s.rssMb));
      rows.push({
        figure: `RSS after ${last.ticks} ticks, at rest after a GC${shipped ? ' (as shipped: node --max-semi-space-size=1)' : label}`,
        target: shipped ? '≤ 80 MB' : '(info)',
        measured:
          `${last.rssMb.toFixed(0)} MB (start ${first.rssMb.toFixed(0)} MB, peak ${maxRss.toFixed(0)} MB; heap total ` +
          `${last.heapTotalMb.toFixed(0)} MB, external ${last.externalMb.toFixed(1)} MB, array buffers ${last.arrayBuffersMb.toFixed(1)} MB)`,
        ...(shipped ? { met: last.rssMb <= 80 } : {}),
      });
      if (shipped) {
        rows.push({
          figure: '  RSS read at once after the forced GC (V8 still sweeping and returning pages on its threads)',
          target: '(info)',
          measured: `${range(run.samples.slice(1).map((s) => s.rssAfterGcMb))} over the samples after the first`,
        });
      }
      rows.push({
        figure: `  JS heap used${shipped ? '' : ' (V8 default)'}: start → after ${warm.ticks} → after ${last.ticks} ticks`,
        target: shipped ? 'no growth' : '(info)',
        measured:
          `${first.heapUsedMb.toFixed(1)} → ${warm.heapUsedMb.toFixed(1)} → ${last.heapUsedMb.toFixed(1)} MB ` +
          `(${signed(last.heapUsedMb - warm.heapUsedMb)} MB after warm-up; the world kept ${run.workflowsCompleted} workflows, ${run.vms} VMs)`,
        ...(shipped ? { met: last.heapUsedMb - warm.heapUsedMb <= 1 } : {}),
      });
      if (!run.gcExposed) rows.push({ figure: '  (GC was not exposed: figures without a forced GC)', target: '', measured: '' });
    }
  } catch (e) {
    rows.push({ figure: 'memory', target: '≤ 80 MB', measured: `not measured: ${e instanceof Error ? e.message : String(e)}` });
  }
  return rows;
}
