import type { QueueInfo, WoodpeckerTask } from '../woodpecker/types.js';

/** The queue numbers the scaling formula works on. */
export interface Demand {
  /** Idle worker slots of every agent on the server (never filtered: the queue does not say whose they are). */
  free: number;
  running: number;
  pending: number;
}

function countWithLabel(tasks: readonly WoodpeckerTask[], key: string, value: string): number {
  let n = 0;
  for (const t of tasks) {
    const labels = t.labels ?? {};
    if (Object.hasOwn(labels, key) && labels[key] === value) n++;
  }
  return n;
}

/**
 * What the queue asks of this pool. Without a filter: the server-wide counters (`stats`). With the Go autoscaler
 * 1.5.0's `--filter-labels key=value` (its `getQueueInfo` / `countTasksByLabel`): `running` and `pending` are the
 * numbers of the queue's running and pending tasks whose labels have exactly that key with exactly that value;
 * `free` stays `stats.worker_count`. Tasks waiting on dependencies are ignored either way.
 */
export function queueDemand(queue: QueueInfo, filter?: { key: string; value: string }): Demand {
  const { stats } = queue;
  if (filter === undefined) {
    return { free: stats.worker_count, running: stats.running_count, pending: stats.pending_count };
  }
  return {
    free: stats.worker_count,
    running: countWithLabel(queue.running, filter.key, filter.value),
    pending: countWithLabel(queue.pending, filter.key, filter.value),
  };
}
