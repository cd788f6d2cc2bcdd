import type { Logger } from 'pino';
import { DeployOutcomeUnknownError, RateLimitedError } from '../providers/types.js';
import type { DeployAgent, Provider, ProviderServer, RemoveResult } from '../providers/types.js';
import type { RandomFn } from '../util/clock.js';
import type { QueueInfo, WoodpeckerAgent, WoodpeckerTask } from '../woodpecker/types.js';
import { newAgentName } from './pool.js';
import type { Action } from './types.js';

/** The part of the Woodpecker REST client the engine uses (implemented by WoodpeckerClient). */
export interface WoodpeckerApi {
  queueInfo(signal?: AbortSignal): Promise<QueueInfo>;
  listAgents(signal?: AbortSignal): Promise<WoodpeckerAgent[]>;
  createAgent(name: string, signal?: AbortSignal): Promise<WoodpeckerAgent>;
  updateAgent(a: { id: number; name: string; no_schedule: boolean }, signal?: AbortSignal): Promise<WoodpeckerAgent>;
  deleteAgent(id: number, signal?: AbortSignal): Promise<'deleted' | 'has-running-tasks' | 'not-found'>;
  agentTasks(id: number, signal?: AbortSignal): Promise<WoodpeckerTask[]>;
  /** The server's clock now (unix ms), from its `Date` header; undefined when unknown. */
  serverNow?(): number | undefined;
}

export type Outcome = 'done' | 'skipped' | 'failed' | 'dry-run';

export interface ActionResult {
  action: Action;
  outcome: Outcome;
  /** The agent/server name the action was about (for `create`: the new name). */
  name: string;
  /** Why it was skipped or what failed, for humans. */
  detail?: string;
  error?: Error;
  durationMs: number;
  /** `create`: the server the provider created. */
  server?: ProviderServer;
  /** `create`: the agent registered for it (its token blanked). */
  agent?: WoodpeckerAgent;
  /** The agent was left unschedulable (a removal drained it, then kept it). */
  drained?: boolean;
  /** The agent record is gone from Woodpecker (deleted now, or already gone). */
  agentGone?: boolean;
  /** The server is gone at the provider (removed now, or already gone). */
  serverGone?: boolean;
  /**
   * `create`: the provider rate-limited the create (no server was made, the agent was unregistered); no create
   * may be tried before this unix ms. Not a provisioning failure.
   */
  rateLimitedUntil?: number;
}

/** What running one action yields; `execute` adds the action and the duration. */
type RunResult = Omit<ActionResult, 'durationMs' | 'action'>;

export interface ExecutorDeps {
  woodpecker: WoodpeckerApi;
  provider: Provider;
  poolId: string;
  /** New agent names carry this installation's tag. */
  installationId: string;
  random: RandomFn;
  logger: Logger;
  /** Renders the cloud-init user-data for a freshly registered agent. */
  renderUserData: (agent: DeployAgent) => string;
  /** Wall time for durations (ms); real or virtual. */
  now: () => number;
  dryRun?: boolean;
  signal?: AbortSignal;
}

function errorOf(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** Names of the action's subject, before it runs. */
export function subjectOf(action: Action): string {
  switch (action.kind) {
    case 'create':
      return '(new agent)';
    case 'remove-server':
    case 'adopt':
      return action.name;
    default:
      return action.agent.name;
  }
}

/**
 * Performs planned actions in order. Every action runs even when an earlier one failed (errors are collected
 * in the results), except that a failed (or rate-limited) create stops the remaining creates of this tick: the next
 * ones would fail the same way. Removals re-check right before acting: `remove-agent` drains the agent, checks its
 * running tasks, deletes the agent (Woodpecker refuses while it runs tasks) and only then removes the server;
 * `remove-server` checks that no agent with the server's name is registered.
 */
export async function execute(
  actions: readonly Action[],
  deps: ExecutorDeps,
  taken: ReadonlySet<string>,
): Promise<ActionResult[]> {
  const results: ActionResult[] = [];
  const names = new Set(taken);
  let createFailed = false;
  for (const action of actions) {
    if (deps.signal?.aborted) break;
    const started = deps.now();
    const log = deps.logger.child({ action: action.kind, reason: action.reason.code });
    if (deps.dryRun) {
      log.info({ agent: subjectOf(action) }, `dry run: would ${action.kind}: ${action.reason.message}`);
      results.push({ action, outcome: 'dry-run', name: subjectOf(action), durationMs: 0 });
      continue;
    }
    if (action.kind === 'create' && createFailed) {
      results.push({
        action,
        outcome: 'skipped',
        name: subjectOf(action),
        detail: 'an earlier create failed or was rate-limited this tick',
        durationMs: 0,
      });
      continue;
    }
    let result: RunResult;
    try {
      result = await runOne(action, deps, names);
    } catch (e) {
      result = { outcome: 'failed', name: subjectOf(action), error: errorOf(e), detail: errorOf(e).message };
    }
    if (action.kind === 'create' && (result.outcome === 'failed' || result.rateLimitedUntil !== undefined)) {
      createFailed = true;
    }
    const full: ActionResult = { action, ...result, durationMs: deps.now() - started };
    results.push(full);
    const fields = { agent: full.name, outcome: full.outcome, durationMs: full.durationMs };
    if (full.outcome === 'failed') log.error({ ...fields, err: full.detail }, `${action.kind} failed: ${action.reason.message}`);
    else if (full.outcome === 'skipped') log.warn({ ...fields, detail: full.detail }, `${action.kind} skipped: ${full.detail ?? ''}`);
    else log.info(fields, `${action.kind}: ${action.reason.message}`);
  }
  return results;
}

async function runningTaskCount(deps: ExecutorDeps, id: number): Promise<number> {
  const tasks = await deps.woodpecker.agentTasks(id, deps.signal);
  return tasks.length;
}

function stillBusy(name: string, tasks: number): RunResult {
  return { outcome: 'skipped', name, detail: `agent is still processing workload (${tasks} task(s))` };
}

async function runOne(
  action: Action,
  deps: ExecutorDeps,
  names: Set<string>,
): Promise<RunResult> {
  const { woodpecker, provider, signal } = deps;
  switch (action.kind) {
    case 'create': {
      const name = newAgentName(deps, deps.random, names);
      names.add(name);
      const agent = await woodpecker.createAgent(name, signal);
      if (agent.name !== name) {
        // The server must keep the name we gave (a wrong Content-Type makes it blank): never deploy a server
        // that cannot be matched to its agent.
        await woodpecker.deleteAgent(agent.id, signal).catch(() => undefined);
        throw new Error(`the server registered the agent as "${agent.name}" instead of "${name}"`);
      }
      const deployAgent: DeployAgent = { id: agent.id, name: agent.name, token: agent.token };
      let server: ProviderServer;
      try {
        server = await provider.deploy({ agent: deployAgent, userData: deps.renderUserData(deployAgent) }, signal);
      } catch (e) {
        // The server may exist (no clear answer, and the provider could not look): keep its agent registered, so
        // the server still counts against max-agents and its agent can connect; if no server turns up, the
        // dangling clean-up removes the agent after the grace period.
        if (e instanceof DeployOutcomeUnknownError) throw e;
        // The provider looked before failing (or was refused by its rate limit), so no server exists for this
        // name. Unregister the agent now so it does not count as capacity.
        await woodpecker.deleteAgent(agent.id, signal).catch(() => undefined);
        if (e instanceof RateLimitedError) {
          // Not a provisioning failure: the next create waits for the provider's Retry-After.
          const until = deps.now() + e.retryAfterMs;
          return {
            outcome: 'skipped',
            name,
            rateLimitedUntil: until,
            detail: `the provider's rate limit refused the create; creates wait until ${new Date(until).toISOString()}`,
          };
        }
        throw errorOf(e);
      }
      return { outcome: 'done', name, server, agent: { ...agent, token: '' } };
    }
    case 'reactivate':
    case 'drain': {
      await woodpecker.updateAgent(
        { id: action.agent.id, name: action.agent.name, no_schedule: action.kind === 'drain' },
        signal,
      );
      return { outcome: 'done', name: action.agent.name };
    }
    case 'remove-agent': {
      // No new work from here on (a stale or never-connected agent is still schedulable): a task assigned after
      // the check below would die with the server. If the removal does not go through, the agent stays drained
      // and is removed once idle.
      await woodpecker.updateAgent({ id: action.agent.id, name: action.agent.name, no_schedule: true }, signal);
      const busy = await runningTaskCount(deps, action.agent.id);
      if (busy > 0) return { ...stillBusy(action.agent.name, busy), drained: true };
      // The agent record goes first, the server after it (upstream removes the server first). Woodpecker refuses
      // the DELETE (409) while the agent has running tasks, so this is the one check no other process can race:
      // another instance may reactivate the agent and Woodpecker may hand it a workflow after our task check, but
      // then the DELETE fails and the server stays. Once the agent is deleted (or already gone) its token is
      // void, so nothing can be scheduled on the server any more.
      const deleted = await woodpecker.deleteAgent(action.agent.id, signal);
      if (deleted === 'has-running-tasks') {
        return {
          outcome: 'skipped',
          name: action.agent.name,
          drained: true,
          detail: 'Woodpecker refused to delete the agent (it has running tasks); agent and server kept',
        };
      }
      let removed: RemoveResult;
      try {
        removed = await provider.remove(action.agent.name, signal);
      } catch (e) {
        // The server has no agent now: the agent-missing clean-up removes it on a later tick.
        return {
          outcome: 'failed',
          name: action.agent.name,
          agentGone: true,
          error: errorOf(e),
          detail: `agent deleted, but removing its server failed (a later tick removes it): ${errorOf(e).message}`,
        };
      }
      return {
        outcome: 'done',
        name: action.agent.name,
        agentGone: true,
        serverGone: true,
        detail: removed === 'not-found' ? 'server was already gone' : undefined,
      };
    }
    case 'delete-agent': {
      const busy = await runningTaskCount(deps, action.agent.id);
      if (busy > 0) return stillBusy(action.agent.name, busy);
      const deleted = await woodpecker.deleteAgent(action.agent.id, signal);
      if (deleted === 'has-running-tasks') {
        return { outcome: 'skipped', name: action.agent.name, detail: 'Woodpecker says the agent has running tasks' };
      }
      return { outcome: 'done', name: action.agent.name, agentGone: true };
    }
    case 'adopt': {
      if (!provider.adopt) return { outcome: 'skipped', name: action.name, detail: 'the provider cannot adopt servers' };
      await provider.adopt(action.name, action.agent.id, signal);
      return { outcome: 'done', name: action.name };
    }
    case 'remove-server': {
      // The plan saw no agent with this name. Look again right before acting: an agent the plan missed (a paged
      // listing shifted by a concurrent delete, an agent renamed back) may be running a task on this server.
      const registered = (await woodpecker.listAgents(signal)).filter((a) => a.name === action.name);
      if (registered.length > 0) {
        return {
          outcome: 'skipped',
          name: action.name,
          detail: `an agent with this name is registered (id ${registered.map((a) => a.id).join(', ')}); its server is kept`,
        };
      }
      const removed = await provider.remove(action.name, signal);
      return {
        outcome: 'done',
        name: action.name,
        serverGone: true,
        detail: removed === 'not-found' ? 'server was already gone' : undefined,
      };
    }
  }
}
