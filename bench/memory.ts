import type { SocketSample } from './memory-sockets.js';
import type { Sample } from './rss-child.js';
/**
 * 4. Daemon memory after 10 000 virtual ticks, for `npm run bench` (and alone: `npm run bench -- --only memory
 * [--ticks N]`). Two child processes run the bundled daemon (bench/rss-child.ts), GC exposed: one with
 * `--max-semi-space-size=1` as the Docker image and the systemd unit ship it (the target row), one with V8's default
 * young generation (information). A third (bench/memory-sockets.ts) runs the Woodpecker clients over real sockets,
 * which the in-process world does not exercise.
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

interface SocketRun {
  samples: SocketSample[];
  gcExposed: boolean;
}

export interface MemoryRuns {
  /** As shipped: --max-semi-space-size=1. */
  capped: MemRun;
  /** V8's default young generation. */
  plain: MemRun;
  sockets: SocketRun;
}

function runChild<T>(file: string, count: number, flags: string[]): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...flags, file, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
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
        resolvePromise(JSON.parse(out.trim().split('\n').pop() ?? '') as T);
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

/** Bundles the child like the production single-file bundle (no tsx loader in the measured process). */
function bundleChild(dir: string, name: string): string {
  const file = join(dir, `${name}.mjs`);
  const res = spawnSync(
    process.execPath,
    [join(root, 'scripts/bundle.mjs'), '--entry', join(root, `bench/${name}.ts`), '--outfile', file],
    { encoding: 'utf8' },
  );
  if (res.status !== 0) throw new Error(`bundling the memory child failed: ${res.stderr}`);
  return file;
}

const SHIPPED = ['--expose-gc', '--max-semi-space-size=1'];

/** Starts the children at once (they run beside the rest of the benchmark): `ticks` of the daemon, `calls` over sockets. */
export function startMemory(ticks: number, calls: number): Promise<MemoryRuns> {
  const dir = mkdtempSync(join(tmpdir(), 'twcloud-bench-'));
  let runs: Promise<MemoryRuns>;
  try {
    const daemon = bundleChild(dir, 'rss-child');
    const sockets = bundleChild(dir, 'memory-sockets');
    runs = Promise.all([
      runChild<MemRun>(daemon, ticks, SHIPPED),
      runChild<MemRun>(daemon, ticks, ['--expose-gc']),
      runChild<SocketRun>(sockets, calls, SHIPPED),
    ]).then(([capped, plain, socketRun]) => ({ capped, plain, sockets: socketRun }));
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
export async function memoryRows(runs: Promise<MemoryRuns>): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = [];
  try {
    const { capped, plain, sockets } = await runs;
    for (const [label, run] of [
      ['', capped],
      [' (V8 default young generation, without --max-semi-space-size=1)', plain],
    ] as const) {
      const first = run.samples[0];
      const last = run.samples.at(-1);
      const warm = run.samples[1] ?? first;
      // V8 keeps compiling and collecting type feedback for rarer paths for a few thousand ticks (heap snapshots show
      // code and feedback, no objects of ours); growth is judged over the second half of the run.
      const mid = run.samples[Math.floor((run.samples.length - 1) / 2)] ?? warm;
      if (!first || !last || !warm || !mid) throw new Error('no memory samples');
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
        figure: `  JS heap used${shipped ? '' : ' (V8 default)'}: start → after ${warm.ticks} → ${mid.ticks} → ${last.ticks} ticks`,
        target: shipped ? `no growth after ${mid.ticks}` : '(info)',
        measured:
          `${first.heapUsedMb.toFixed(1)} → ${warm.heapUsedMb.toFixed(1)} → ${mid.heapUsedMb.toFixed(1)} → ${last.heapUsedMb.toFixed(1)} MB ` +
          `(${signed(last.heapUsedMb - mid.heapUsedMb)} MB over the second half; ${signed(last.heapUsedMb - warm.heapUsedMb)} MB after ${warm.ticks} ticks, of which compiled code ` +
          `${signed(last.codeSpaceMb - warm.codeSpaceMb)} MB; ${run.workflowsCompleted} workflows and ${run.vms} VMs ran, their history dropped before each sample)`,
        ...(shipped ? { met: last.heapUsedMb - mid.heapUsedMb <= 0.5 } : {}),
      });
      if (!run.gcExposed) rows.push({ figure: '  (GC was not exposed: figures without a forced GC)', target: '', measured: '' });
    }
    const s0 = sockets.samples[0];
    const s1 = sockets.samples[2] ?? sockets.samples[1]; // after a fifth of the calls: JIT and connection pools warm
    const sN = sockets.samples.at(-1);
    if (!s0 || !s1 || !sN) throw new Error('no socket memory samples');
    const arrow = (f: (s: SocketSample) => number): string =>
      `${f(s0).toFixed(1)} → ${f(s1).toFixed(1)} → ${f(sN).toFixed(1)} MB`;
    rows.push({
      figure:
        `Woodpecker clients over real sockets (fetch/undici, as shipped): ${sN.calls} calls, ` +
        `${sN.streamConnections} event-stream connections; start → after ${s1.calls} calls → end`,
      target: '(info) no growth',
      measured:
        `RSS ${arrow((s) => s.rssMb)}; heap used ${arrow((s) => s.heapUsedMb)}; ` +
        `external ${arrow((s) => s.externalMb)}; array buffers ${arrow((s) => s.arrayBuffersMb)}`,
    });
  } catch (e) {
    rows.push({ figure: 'memory', target: '≤ 80 MB', measured: `not measured: ${e instanceof Error ? e.message : String(e)}` });
  }
  return rows;
}
