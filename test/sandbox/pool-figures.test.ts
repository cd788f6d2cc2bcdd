import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { poolAgentLabels } from '../../src/engine/labels.js';
import type { TickReport } from '../../src/engine/reconciler.js';
import type { PlanSummary } from '../../src/engine/types.js';
import { costAt } from '../../src/sandbox/metrics.js';
import { byPool, costOfPools, labelClass, labelClassFigures, poolFigures, vmsForWorkItCannotRun } from '../../src/sandbox/pool-figures.js';
import type { PoolRun } from '../../src/sandbox/pool-figures.js';
import type { WoodpeckerTask } from '../../src/woodpecker/types.js';

const H = 3_600_000;

function task(id: string, labels: Record<string, string>): WoodpeckerTask {
  return { id, labels: { ...labels, repo: 'acme/app', 'org-id': '1' }, dependencies: null, run_on: null, dep_status: null, agent_id: 0 };
}

function summary(over: Partial<PlanSummary>): PlanSummary {
  return {
    poolAgents: 0,
    active: 0,
    drained: 0,
    booting: 0,
    servers: { booting: 0, running: 0, failed: 0, deleting: 0 },
    freeSlots: 0,
    runningTasks: 0,
    pendingTasks: 0,
    available: 0,
    required: 0,
    delta: 0,
    desired: 0,
    ...over,
  };
}

/** A tick report with just what the figure reads: the queue's pending tasks, the plan summary and the done actions. */
function report(pending: WoodpeckerTask[], s: PlanSummary, done: { creates: number; reactivations?: number }): TickReport {
  const results = [
    ...Array.from({ length: done.creates }, () => ({ action: { kind: 'create' }, outcome: 'done' })),
    ...Array.from({ length: done.reactivations ?? 0 }, () => ({ action: { kind: 'reactivate' }, outcome: 'done' })),
    { action: { kind: 'create' }, outcome: 'failed' },
  ];
  return { observation: { queue: { pending } }, plan: { summary: s }, results } as unknown as TickReport;
}

const small: Pick<PoolRun, 'matchLabels' | 'engine'> = {
  matchLabels: poolAgentLabels({ size: 'small' }),
  engine: { policy: 'default', workflowsPerAgent: 2, minAgents: 0, maxAgents: 10, billingModel: 'hourly' },
};

describe('VMs created for work the pool cannot run', () => {
  const s = task('s', { size: 'small' });
  const l = (id: string): WoodpeckerTask => task(id, { size: 'large' });
  const cases: [string, TickReport, number, Set<string>?][] = [
    ['only work it can run', report([s, task('s2', { size: 'small' })], summary({ pendingTasks: 2, delta: 1 }), { creates: 1 }), 0],
    ['only work it cannot run: every create', report([l('a'), l('b'), l('c')], summary({ pendingTasks: 3, delta: 2 }), { creates: 2 }), 2],
    ['1 small + 4 large, 2 per agent: 3 created, 1 needed', report([s, l('a'), l('b'), l('c'), l('d')], summary({ pendingTasks: 5, delta: 3 }), { creates: 3 }), 2],
    [
      'a reactivated agent serves the work it can run first',
      report([s, l('a'), l('b'), l('c'), l('d')], summary({ pendingTasks: 5, delta: 3 }), { creates: 2, reactivations: 1 }),
      2,
    ],
    ['free slots already cover what it can run', report([s, l('a')], summary({ pendingTasks: 2, freeSlots: 1, delta: 1 }), { creates: 1 }), 1],
    [
      'warm capacity (min-agents) is not blamed on the labels',
      report([l('a')], summary({ pendingTasks: 1, delta: 1, warm: { minAgents: 1, idleSlots: 0, why: [] } }), { creates: 1 }),
      0,
    ],
    ['no create, nothing to count', report([l('a')], summary({ pendingTasks: 1 }), { creates: 0 }), 0],
    ['several pools: only the tasks the pool was given count', report([s, l('a')], summary({ pendingTasks: 1, delta: 1 }), { creates: 1 }), 0, new Set(['s'])],
  ];
  for (const [name, r, want, given] of cases) {
    it(name, () => assert.equal(vmsForWorkItCannotRun(r, small, given), want));
  }
});

describe('per-pool prices and label classes', () => {
  const pool = (id: string, perHour: number, billingModel: 'hourly' | 'per-second'): PoolRun => ({
    id,
    agentLabels: { size: id },
    matchLabels: poolAgentLabels({ size: id }),
    engine: { policy: 'default', workflowsPerAgent: 1, minAgents: 0, maxAgents: 5, billingModel },
    owns: (name) => name.startsWith(`pool-${id}-`),
    perHour,
    priceDescription: `preset of ${id}`,
  });
  const pools = [pool('small', 1, 'hourly'), pool('large', 3, 'per-second')];
  const lives = [
    { name: 'pool-small-agent-a', createdAt: 0, deletedAt: 90 * 60_000 },
    { name: 'pool-large-agent-b', createdAt: 0, deletedAt: 30 * 60_000 },
    { name: 'pool-large-agent-c', createdAt: H },
  ];

  it('prices every server at its own pool price and billing; the total is their sum', () => {
    const servers = byPool(pools, lives);
    const figures = poolFigures(pools, servers, 2 * H, [0, 1]);
    assert.deepEqual(
      figures.map((f) => [f.id, f.vmsCreated, f.vmHours, f.cost, f.perHour, f.billing, f.vmsForWorkItCannotRun]),
      [
        ['small', 1, 1.5, 2, 1, 'hourly', 0],
        ['large', 2, 1.5, 4.5, 3, 'per-second', 1],
      ],
    );
    assert.equal(costOfPools(pools, servers, 2 * H), 6.5);
    assert.notEqual(costOfPools(pools, servers, 2 * H), costAt(lives, 2 * H, 1, 'hourly'), 'not every server at the first pool price');
  });

  it('groups workflows by their labels without repo and org-id; counts what no pool can run', () => {
    assert.equal(labelClass({ repo: 'x', 'org-id': '1', size: 'small', b: '' }), 'size=small');
    assert.equal(labelClass(null), '');
    const w = (labels: Record<string, string>, queuedAt: number, startedAt?: number) => ({
      id: 'w',
      name: 'w',
      labels: { ...labels, repo: 'acme/app', 'org-id': '1' },
      queuedAt,
      startedAt,
      attempts: 1,
      agentId: 0,
    });
    const classes = labelClassFigures(
      {
        completed: [
          { ...w({ size: 'small' }, 0, 10_000), status: 'success', finishedAt: 1, agentName: 'a' },
          { ...w({ size: 'small' }, 0, 30_000), status: 'failure', finishedAt: 1, agentName: 'a' },
        ],
        running: [{ ...w({ size: 'large' }, 0, 50_000), status: 'running' }],
        pending: [{ ...w({ type: 'gpu' }, 0), status: 'pending' }],
        waitingOnDeps: [],
      },
      pools,
    );
    assert.deepEqual(classes, [
      { labels: 'size=large', queued: 1, completed: 0, unfinished: 1, waitP95: 50_000, unservable: 0 },
      { labels: 'size=small', queued: 2, completed: 2, unfinished: 0, waitP95: 30_000, unservable: 0 },
      { labels: 'type=gpu', queued: 1, completed: 0, unfinished: 1, waitP95: null, unservable: 1 },
    ]);
  });
});
