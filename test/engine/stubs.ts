/**
 * Small in-memory stand-ins for the Woodpecker API and a provider, for executor, reconciler and loop tests.
 * Strict: every call is logged (`calls`, in order, shared by both stubs when they share a log), and a call to a
 * method a test did not allow is recorded in `unexpected` and throws. Tests assert the exact call log.
 */
import type { WoodpeckerApi } from '../../src/engine/executor.js';
import type {
  BillingModel,
  DeployRequest,
  Provider,
  ProviderServer,
  RemoveResult,
} from '../../src/providers/types.js';
import { NONCE_CHARS } from '../../src/engine/pool.js';
import type { RandomFn } from '../../src/util/clock.js';
import type { QueueInfo, WoodpeckerAgent, WoodpeckerTask } from '../../src/woodpecker/types.js';
import { queue } from './fixtures.js';

export class CallLog {
  readonly calls: string[] = [];
  readonly unexpected: string[] = [];

  record(call: string, allowed: boolean): void {
    this.calls.push(call);
    if (!allowed) {
      this.unexpected.push(call);
      throw new Error(`unexpected call: ${call}`);
    }
  }
}

type WpMethod = keyof WoodpeckerApi;
type ProviderMethod = 'deploy' | 'remove' | 'list' | 'sweep';

export class StubWoodpecker implements WoodpeckerApi {
  /** Registered agents by id. */
  readonly agents = new Map<number, WoodpeckerAgent>();
  /** Running tasks per agent id (what `agentTasks` and the 409 on delete answer). */
  readonly tasks = new Map<number, number>();
  /** What `queueInfo` returns (a function of nothing: tests replace it). */
  queue: () => QueueInfo = () => queue();
  /** Forces the next `deleteAgent` answers, in order (e.g. a 409 in a race after `agentTasks` said 0). */
  deleteAnswers: Array<'deleted' | 'has-running-tasks' | 'not-found'> = [];
  /** The server registers agents under this name instead (the blank-name trap). */
  renameTo: string | undefined;
  /** Wall time (unix ms) for the `created` stamp of registered agents. */
  now: () => number = () => 0;
  /** `createAgent` fails with this error. */
  createError: Error | undefined;
  /** `listAgents` fails with this error. */
  listError: Error | undefined;
  /** Awaited inside `listAgents` (e.g. to abort a loop during a tick, or to make a tick take virtual time). */
  onList: (() => void | Promise<void>) | undefined;
  private nextId = 100;

  constructor(
    readonly log: CallLog,
    private readonly allowed: ReadonlySet<WpMethod>,
  ) {}

  private enter(method: WpMethod, detail = ''): void {
    this.log.record(`wp.${method}(${detail})`, this.allowed.has(method));
  }

  /** Adds agents as if they had been registered earlier. */
  seed(...agents: WoodpeckerAgent[]): this {
    for (const a of agents) this.agents.set(a.id, { ...a });
    return this;
  }

  async queueInfo(): Promise<QueueInfo> {
    this.enter('queueInfo');
    return this.queue();
  }

  async listAgents(): Promise<WoodpeckerAgent[]> {
    this.enter('listAgents');
    await this.onList?.();
    if (this.listError) throw this.listError;
    return [...this.agents.values()].map((a) => ({ ...a }));
  }

  async createAgent(name: string): Promise<WoodpeckerAgent> {
    this.enter('createAgent', name);
    if (this.createError) throw this.createError;
    const id = this.nextId++;
    const a: WoodpeckerAgent = {
      id,
      created: Math.floor(this.now() / 1000),
      updated: 0,
      name: this.renameTo ?? name,
      owner_id: -1,
      token: `token-of-${id}`,
      last_contact: 0,
      last_work: 0,
      platform: '',
      backend: '',
      capacity: 0,
      version: '',
      no_schedule: false,
      custom_labels: null,
      org_id: -1,
    };
    this.agents.set(id, a);
    return { ...a };
  }

  async updateAgent(a: { id: number; name: string; no_schedule: boolean }): Promise<WoodpeckerAgent> {
    this.enter('updateAgent', `${a.id},${a.name},no_schedule=${a.no_schedule}`);
    const cur = this.agents.get(a.id);
    if (!cur) throw new Error(`agent ${a.id} not found`);
    const next = { ...cur, name: a.name, no_schedule: a.no_schedule };
    this.agents.set(a.id, next);
    return { ...next };
  }

  async deleteAgent(id: number): Promise<'deleted' | 'has-running-tasks' | 'not-found'> {
    this.enter('deleteAgent', String(id));
    const forced = this.deleteAnswers.shift();
    if (forced) return forced;
    if ((this.tasks.get(id) ?? 0) > 0) return 'has-running-tasks';
    return this.agents.delete(id) ? 'deleted' : 'not-found';
  }

  async agentTasks(id: number): Promise<WoodpeckerTask[]> {
    this.enter('agentTasks', String(id));
    return Array.from({ length: this.tasks.get(id) ?? 0 }, (_, i) => ({
      id: `${id}-${i}`,
      labels: null,
      dependencies: null,
      run_on: null,
      dep_status: null,
      agent_id: id,
    }));
  }
}

export class StubProvider implements Provider {
  readonly name = 'stub';
  readonly preExec: readonly string[] = [];
  readonly postExec: readonly string[] = [];
  /** Servers by name. */
  readonly servers = new Map<string, ProviderServer>();
  /** User-data each deploy received, by server name (tests check the rendering; never logged). */
  readonly userData = new Map<string, string>();
  /** `deploy` fails with this error (after looking: no server is created). */
  deployError: Error | undefined;
  /** `list` fails with this error. */
  listError: Error | undefined;
  /** `remove` fails with this error. */
  removeError: Error | undefined;
  /** Creation time of deployed servers. */
  now: () => number = () => 0;

  constructor(
    readonly log: CallLog,
    private readonly allowed: ReadonlySet<ProviderMethod>,
    readonly billingModel: BillingModel = 'per-second',
  ) {}

  private enter(method: ProviderMethod, detail = ''): void {
    this.log.record(`provider.${method}(${detail})`, this.allowed.has(method));
  }

  seed(...servers: ProviderServer[]): this {
    for (const s of servers) this.servers.set(s.name, { ...s });
    return this;
  }

  async deploy(req: DeployRequest): Promise<ProviderServer> {
    this.enter('deploy', req.agent.name);
    if (this.deployError) throw this.deployError;
    if (this.servers.has(req.agent.name)) throw new Error(`server ${req.agent.name} already exists`);
    const s: ProviderServer = {
      id: `srv-${req.agent.name}`,
      name: req.agent.name,
      createdAt: this.now(),
      state: 'booting',
      status: 'installing',
    };
    this.servers.set(s.name, s);
    this.userData.set(s.name, req.userData);
    return { ...s };
  }

  async remove(name: string): Promise<RemoveResult> {
    this.enter('remove', name);
    if (this.removeError) throw this.removeError;
    return this.servers.delete(name) ? 'removed' : 'not-found';
  }

  async list(): Promise<ProviderServer[]> {
    this.enter('list');
    if (this.listError) throw this.listError;
    return [...this.servers.values()].map((s) => ({ ...s }));
  }
}

export const ALL_WP: ReadonlySet<WpMethod> = new Set<WpMethod>([
  'queueInfo',
  'listAgents',
  'createAgent',
  'updateAgent',
  'deleteAgent',
  'agentTasks',
]);
/** What the executor may call on Woodpecker (never reads the queue; lists agents only to re-check a remove-server). */
export const EXECUTOR_WP: ReadonlySet<WpMethod> = new Set<WpMethod>([
  'createAgent',
  'updateAgent',
  'deleteAgent',
  'agentTasks',
  'listAgents',
]);
/** What the executor may call on the provider (never lists). */
export const EXECUTOR_PROVIDER: ReadonlySet<ProviderMethod> = new Set<ProviderMethod>(['deploy', 'remove']);
export const ALL_PROVIDER: ReadonlySet<ProviderMethod> = new Set<ProviderMethod>(['deploy', 'remove', 'list']);
export const NONE: ReadonlySet<never> = new Set<never>();

/**
 * A RandomFn that makes agent-name nonces spell the given words (each padded with `z` to 6 characters, as the
 * fixtures' `n()` does), then repeats them: `spelling('abcd', 'wxyz')` names `n('abcd')`, then `n('wxyz')`.
 */
export function spelling(...words: string[]): RandomFn {
  const s = words.map((w) => w.padEnd(6, 'z')).join('');
  let i = 0;
  return () => {
    const ch = s[i++ % s.length] ?? 'a';
    return (NONCE_CHARS.indexOf(ch) + 0.5) / NONCE_CHARS.length;
  };
}
