import { setTimeout as pause } from 'node:timers/promises';
import { getHeapSpaceStatistics } from 'node:v8';

/**
 * One memory reading of a benchmark child process (started with `--expose-gc`), taken when the process rests, as a
 * daemon does between its ticks. Virtual time packs a minute of the daemon's work into a few milliseconds, so right
 * after a forced GC V8's background threads are still sweeping and handing freed pages back: that reading swings by
 * 40 MB from one sample to the next with the machine's load (kept as `rssAfterGcMb`). The reading waits real-time
 * pauses until RSS holds still, bounded by count.
 */
export interface MemoryReading {
  /** RSS when the process has rested after the forced GC (what a daemon between two ticks holds). */
  rssMb: number;
  /** RSS read at once after the forced GC, while V8's background threads still return freed pages. */
  rssAfterGcMb: number;
  heapTotalMb: number;
  heapUsedMb: number;
  /** Of the heap used: compiled code (grows as V8 optimises more of the program; bounded by the program's size). */
  codeSpaceMb: number;
  /** Memory of C++ objects bound to JS objects, ArrayBuffers included. */
  externalMb: number;
  /** Buffers and ArrayBuffers (stream chunks, request and response bodies). */
  arrayBuffersMb: number;
}

const MB = 1024 * 1024;
const mb = (bytes: number): number => Math.round((bytes / MB) * 10) / 10;

/** True when the process runs with `--expose-gc` (the readings follow a forced GC). */
export const gcExposed = (): boolean => typeof (globalThis as { gc?: unknown }).gc === 'function';

/** Rest: real-time pauses until two readings in a row agree within 0.25 MB (at most 40 pauses of 25 ms). */
async function restingRss(): Promise<number> {
  let prev = process.memoryUsage.rss();
  for (let i = 0; i < 40; i++) {
    await pause(25);
    const now = process.memoryUsage.rss();
    if (i > 0 && Math.abs(now - prev) < MB / 4) return now;
    prev = now;
  }
  return prev;
}

export async function readMemory(): Promise<MemoryReading> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const afterGc = process.memoryUsage.rss();
  const rss = await restingRss();
  const m = process.memoryUsage();
  return {
    rssMb: mb(rss),
    rssAfterGcMb: mb(afterGc),
    heapTotalMb: mb(m.heapTotal),
    heapUsedMb: mb(m.heapUsed),
    codeSpaceMb: mb(getHeapSpaceStatistics().find((sp) => sp.space_name === 'code_space')?.space_used_size ?? 0),
    externalMb: mb(m.external),
    arrayBuffersMb: mb(m.arrayBuffers),
  };
}
