import type { ActionResult } from '../../src/engine/executor.js';
import { applyResults } from '../../src/engine/after.js';
import { plan } from '../../src/engine/planner.js';
import type { TickReport } from '../../src/engine/reconciler.js';
import { initialMemory } from '../../src/engine/types.js';
import type { Action, EngineConfig, EngineMemory, Observation, PlanMode } from '../../src/engine/types.js';
import type { ProviderServer } from '../../src/providers/types.js';
import type { Clock } from '../../src/util/clock.js';
import type { QueueInfo, WoodpeckerAgent, WoodpeckerTask } from '../../src/woodpecker/types.js';

import { INSTALLATION, n as nm } from '../engine/fixtures.js';

/** Synthetic tick reports for the observability tests (no engine run, no I/O). */

export { nm };

export const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);
export const MIN = 60_000;

export const SECRET_AGENT_TOKEN = 'AGENTSECRETTOKEN-do-not-leak-0123456789';

export const config: EngineConfig = {
  policy: 'default',
  poolId: '1',
  installationId: INSTALLATION,
  minAgents: 1,
  maxAgents: 5,
  workflowsPerAgent: 2,
  reconciliationInterval: MIN,
  agentInactivityTimeout: 10 * MIN,
  agentIdleTimeout: 10 * MIN,
  agentBillingTeardownMargin: 2 * MIN,
  danglingGrace: 2 * MIN,
  billingModel: 'hourly',
};

export interface ManualClock extends Clock {
  set(t: number): void;
  advance(ms: number): void;
}

export function manualClock(start = T0): ManualClock {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    set: (t) => {
      now = t;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

export function agent(p: Partial<WoodpeckerAgent> & { id: number; name: string }): WoodpeckerAgent {
  return {
    created: Math.floor(T0 / 1000),
    updated: 0,
    owner_id: 1,
    token: SECRET_AGENT_TOKEN,
    last_contact: 0,
    last_work: 0,
    platform: 'linux/amd64',
    backend: 'docker',
    capacity: 2,
    version: '3.17.0',
    no_schedule: false,
    custom_labels: null,
    org_id: -1,
    ...p,
  };
}

export function task(id: string, p: Partial<WoodpeckerTask> = {}): WoodpeckerTask {
  return { id, labels: null, dependencies: null, run_on: null, dep_status: null, agent_id: 0, ...p };
}

export function queueOf(p: { pending?: WoodpeckerTask[]; running?: WoodpeckerTask[]; waiting?: WoodpeckerTask[]; free?: number }): QueueInfo {
  const pending = p.pending ?? [];
  const running = p.running ?? [];
  const waiting = p.waiting ?? [];
  return {
    pending,
    running,
    waiting_on_deps: waiting,
    stats: {
      worker_count: p.free ?? 0,
      pending_count: pending.length,
      running_count: running.length,
      waiting_on_deps_count: waiting.length,
    },
    paused: false,
  };
}

export function server(name: string, createdAt: number, p: Partial<ProviderServer> = {}): ProviderServer {
  return { id: `srv-${name}`, name, createdAt, state: 'running', status: 'on', publicIpv4: '203.0.113.10', ...p };
}

export function result(action: Action, p: Partial<ActionResult> & { name: string }): ActionResult {
  return { action, outcome: 'done', durationMs: 1500, ...p };
}

export function report(p: {
  now: number;
  agents?: WoodpeckerAgent[];
  queue?: QueueInfo;
  servers?: ProviderServer[] | undefined;
  results?: ActionResult[];
  memory?: EngineMemory;
  mode?: PlanMode;
  errors?: string[];
  /** No observation at all (the Woodpecker server did not answer). */
  failed?: boolean;
  durationMs?: number;
}): TickReport {
  const mode = p.mode ?? 'full';
  const memory = p.memory ?? initialMemory;
  const errors = [...(p.errors ?? [])];
  const finishedAt = p.now + (p.durationMs ?? 800);
  if (p.failed) {
    errors.push('observing the Woodpecker server failed: connect ECONNREFUSED 127.0.0.1:8000');
    return { mode, startedAt: p.now, finishedAt, ok: false, errors, results: [], memory };
  }
  const observation: Observation = {
    now: p.now,
    agents: p.agents ?? [],
    queue: p.queue ?? queueOf({}),
    servers: 'servers' in p ? p.servers : [],
  };
  if (observation.servers === undefined) errors.push('listing provider servers failed');
  const results = p.results ?? [];
  for (const r of results) if (r.outcome === 'failed') errors.push(`${r.action.kind} ${r.name}: ${r.detail ?? 'failed'}`);
  return {
    mode,
    startedAt: p.now,
    finishedAt,
    ok: errors.length === 0,
    errors,
    observation,
    state: applyResults(observation, results),
    plan: plan(observation, config, memory, mode),
    results,
    memory,
  };
}

const sec = (ms: number): number => Math.floor(ms / 1000);

/**
 * A few hours of a plausible pool: work arrives in waves, agents are created, boot, take work, drain and go.
 * One report per minute from `start`, `minutes` long. Deterministic.
 */
export function syntheticRun(start: number, minutes: number): TickReport[] {
  const out: TickReport[] = [];
  interface A {
    id: number;
    name: string;
    createdAt: number;
    connectAt: number;
    drained: boolean;
    lastWork: number;
  }
  const pool: A[] = [{ id: 1, name: nm('base'), createdAt: start - 90 * MIN, connectAt: start - 88 * MIN, drained: false, lastWork: 0 }];
  let nextId = 2;
  let taskSeq = 1;
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (let m = 0; m < minutes; m++) {
    const now = start + m * MIN;
    // Demand: two waves plus a small baseline.
    const wave = Math.max(0, Math.round(7 * Math.sin((m / 70) * Math.PI)) + (m % 9 === 0 ? 2 : 0));
    const connected = pool.filter((a) => a.connectAt <= now && !a.drained);
    const capacity = connected.length * 2;
    const runningN = Math.min(wave, capacity);
    const pendingN = wave - runningN;
    const running: WoodpeckerTask[] = [];
    for (let i = 0; i < runningN; i++) {
      const a = connected[Math.floor(i / 2)] as A;
      a.lastWork = now;
      running.push(task(`r${m}-${i}`, { agent_id: a.id, created: sec(now - 3 * MIN) }));
    }
    const pending = Array.from({ length: pendingN }, () => task(`p${taskSeq++}`, { created: sec(now - MIN) }));
    const agents = pool.map((a) =>
      agent({
        id: a.id,
        name: a.name,
        created: sec(a.createdAt),
        last_contact: a.connectAt <= now ? sec(now - 5000) : 0,
        last_work: a.lastWork ? sec(a.lastWork) : 0,
        no_schedule: a.drained,
      }),
    );
    const servers = pool.map((a) =>
      server(a.name, a.createdAt, a.connectAt <= now ? {} : { state: 'booting', status: 'installing', publicIpv4: undefined }),
    );
    const results: ActionResult[] = [];
    const booting = pool.filter((a) => a.connectAt > now && !a.drained).length;
    const want = Math.ceil((pendingN + runningN) / 2) - connected.length - booting;
    if (want > 0 && pool.length < 5) {
      const name = nm(`${letters[nextId % 26] ?? 'x'}${letters[(nextId * 7) % 26] ?? 'y'}q${nextId}`.slice(0, 6));
      pool.push({ id: nextId++, name, createdAt: now, connectAt: now + 3 * MIN, drained: false, lastWork: 0 });
      results.push(
        result(
          { kind: 'create', reason: { code: 'pending-work', message: `${pendingN} pending workflow(s) need more agents` } },
          { name, durationMs: 2100 },
        ),
      );
    } else if (wave === 0 && connected.length > 1) {
      const idle = connected.filter((a) => a.id !== 1 && now - a.lastWork > 10 * MIN)[0];
      if (idle) {
        idle.drained = true;
        results.push(
          result(
            { kind: 'drain', agent: { id: idle.id, name: idle.name }, reason: { code: 'excess-capacity', message: 'more capacity than work' } },
            { name: idle.name, durationMs: 120 },
          ),
        );
      }
    }
    const drainedIdle = pool.filter((a) => a.drained && now - a.lastWork > 12 * MIN);
    for (const d of drainedIdle) {
      results.push(
        result(
          { kind: 'remove-agent', agent: { id: d.id, name: d.name }, reason: { code: 'drained', message: 'drained agent with no running tasks' } },
          { name: d.name, durationMs: 900 },
        ),
      );
      pool.splice(pool.indexOf(d), 1);
    }
    out.push(report({ now, agents, queue: queueOf({ pending, running, free: capacity - runningN }), servers, results }));
  }
  return out;
}
