import type { Logger } from 'pino';
import { roughDuration } from '../config/duration.js';
import { monotonicNow, type Clock, type RandomFn } from '../util/clock.js';
import { errorMessage } from '../util/guards.js';
import { WoodpeckerApiError } from '../woodpecker/client.js';
import type { WoodpeckerAgent } from '../woodpecker/types.js';
import {
  decideLease,
  initialLeaseMemory,
  leaseName,
  leaseRecords,
  leaseWriteWindow,
  type LeaseMemory,
  type LeaseRecord,
  type LeaseStatus,
  type LeaseStep,
} from './lease.js';
import { randomLetters } from './pool.js';
import type { PlanMode } from './types.js';

/** The Woodpecker calls the lease needs (the WoodpeckerClient has them). */
export interface LeaseApi {
  listAgents(signal?: AbortSignal): Promise<WoodpeckerAgent[]>;
  createAgent(name: string, signal?: AbortSignal, opts?: { noSchedule?: boolean }): Promise<WoodpeckerAgent>;
  updateAgent(a: { id: number; name: string; no_schedule: boolean }, signal?: AbortSignal): Promise<WoodpeckerAgent>;
  deleteAgent(id: number, signal?: AbortSignal): Promise<'deleted' | 'has-running-tasks' | 'not-found'>;
}

export interface LeaseKeeperOptions {
  api: LeaseApi;
  installationId: string;
  clock: Clock;
  random: RandomFn;
  logger: Logger;
  /** See `leaseTtl`. */
  ttl: number;
  /** Dry runs never write the lease: they report who holds it and plan as if they acted. */
  dryRun?: boolean;
}

/** The reconciler's gate: may this tick act? Performs the lease writes of `decideLease`'s steps. Never throws. */
export interface LeaseGate {
  check(agents: readonly WoodpeckerAgent[], mode: PlanMode, signal?: AbortSignal): Promise<LeaseStatus>;
}

/** The thin effectful wrapper around `decideLease`. */
export class LeaseKeeper implements LeaseGate {
  private memory: LeaseMemory;
  private ownId: number | undefined;
  private current: LeaseStatus;
  private announced: LeaseStatus['role'] | undefined;

  constructor(private readonly o: LeaseKeeperOptions) {
    this.memory = initialLeaseMemory(randomLetters(8, o.random));
    this.current = this.status('standby', undefined, [], 'no lease check yet');
  }

  /** This process's holder id. */
  get self(): string {
    return this.memory.self;
  }

  /** The status of the last check. */
  get last(): LeaseStatus {
    return this.current;
  }

  async check(agents: readonly WoodpeckerAgent[], mode: PlanMode, signal?: AbortSignal): Promise<LeaseStatus> {
    let result: LeaseStatus;
    try {
      result = await this.run(agents, mode, signal);
    } catch (e) {
      result = this.status('standby', undefined, [], `the lease could not be checked: ${errorMessage(e)}`, errorMessage(e));
    }
    this.announce(result);
    this.current = result;
    return result;
  }

  /**
   * Why a write (create, drain, delete…) must not be sent now, or undefined when it may: this instance holds the lease
   * and renewed it less than `leaseWriteWindow(ttl)` ago. Checked right before every write of a tick (`fenceWrites`).
   */
  writeBlocked(): string | undefined {
    if (this.o.dryRun) return undefined;
    if (this.current.role !== 'acting') return 'this instance does not hold the lease';
    const at = this.memory.renewedAt;
    const window = leaseWriteWindow(this.o.ttl);
    if (at === undefined) return 'this instance does not hold the lease';
    const since = this.now() - at;
    if (since >= window) {
      return `the lease was last renewed ${roughDuration(since)} ago (write window ${roughDuration(window)}): another instance may have taken over`;
    }
    return undefined;
  }

  /** Graceful stop: delete our record so a standby takes over at its next tick. Never throws. */
  async release(): Promise<void> {
    const id = this.ownId;
    if (id === undefined || this.o.dryRun) return;
    try {
      await this.o.api.deleteAgent(id);
      this.ownId = undefined;
      this.memory = { ...this.memory, heldSince: undefined, renewedAt: undefined };
      this.o.logger.info({ lease: id }, 'lease released');
    } catch (e) {
      this.o.logger.warn({ lease: id, err: errorMessage(e) }, 'releasing the lease failed; a standby takes over once it expires');
    }
  }

  // ---------------------------------------------------------------------------------------------------------------

  private now(): number {
    return monotonicNow(this.o.clock);
  }

  private async run(agents: readonly WoodpeckerAgent[], mode: PlanMode, signal?: AbortSignal): Promise<LeaseStatus> {
    const records = leaseRecords(agents, this.o.installationId);
    const { step, memory } = decideLease({ records, memory: this.memory, now: this.now(), ttl: this.o.ttl, mode });
    this.memory = memory;
    const own = records.find((r) => r.holder === this.memory.self);
    this.ownId = own?.id;
    if (this.o.dryRun) return this.observing(step, records);
    switch (step.kind) {
      case 'hold':
        return this.status('acting', step.record, records, 'this instance holds the lease');
      case 'not-holder':
        return this.status('standby', step.holder, records, holderSentence(step.holder));
      case 'wait':
        return this.status(
          'standby',
          step.holder,
          records,
          `another instance of this installation holds the lease (${step.holder.name}, renewed ${roughDuration(step.unchangedMs)} ago)`,
        );
      case 'yield': {
        const r = await this.o.api.deleteAgent(step.own.id, signal);
        if (r !== 'has-running-tasks') this.ownId = undefined;
        return this.status(
          'standby',
          step.holder,
          records.filter((x) => x.id !== step.own.id),
          `another instance of this installation holds the lease (${step.holder.name}, a lower id than ours)`,
        );
      }
      case 'renew':
        return this.renew(step, records, signal);
      case 'take-over': {
        const r = await this.o.api.deleteAgent(step.holder.id, signal);
        if (r !== 'deleted') {
          return this.status('standby', undefined, records, `the expired lease ${step.holder.name} was taken over by another instance`);
        }
        this.o.logger.warn(
          { lease: step.holder.name, unchanged: roughDuration(step.unchangedMs) },
          `the lease holder stopped renewing (record unchanged for ${roughDuration(step.unchangedMs)}): taking over`,
        );
        return this.acquire(signal);
      }
      case 'create':
        return this.acquire(signal);
    }
  }

  private observing(step: LeaseStep, records: readonly LeaseRecord[]): LeaseStatus {
    const holder = records[0];
    const by = holder ? `held by ${holder.name}` : 'not held by any instance';
    void step;
    return this.status('observing', holder, records, `dry run: the lease is ${by}; a dry run never takes it`);
  }

  private async renew(step: Extract<LeaseStep, { kind: 'renew' }>, records: readonly LeaseRecord[], signal?: AbortSignal): Promise<LeaseStatus> {
    const sent = this.now();
    try {
      await this.o.api.updateAgent({ id: step.record.id, name: step.name, no_schedule: true }, signal);
    } catch (e) {
      if (e instanceof WoodpeckerApiError && e.status === 404) {
        this.ownId = undefined;
        this.memory = { ...this.memory, heldSince: undefined, renewedAt: undefined };
        return this.status('standby', undefined, records, 'the lease record was deleted (taken over, or by an operator): standing by');
      }
      return this.status('standby', step.record, records, `renewing the lease failed: ${errorMessage(e)}`, errorMessage(e));
    }
    this.memory = { ...this.memory, heldSince: this.memory.heldSince ?? sent, renewedAt: sent };
    const renewed = { ...step.record, name: step.name, seq: step.record.seq + 1 };
    for (const r of step.cleanup) {
      try {
        await this.o.api.deleteAgent(r.id, signal);
        this.o.logger.info({ lease: r.name }, 'deleted an abandoned lease record of this installation');
      } catch (e) {
        this.o.logger.warn({ lease: r.name, err: errorMessage(e) }, 'deleting an abandoned lease record failed');
      }
    }
    const left = records.filter((x) => !step.cleanup.some((c) => c.id === x.id)).map((x) => (x.id === renewed.id ? renewed : x));
    return this.status('acting', renewed, left, 'this instance holds the lease');
  }

  /** Registers our record, then re-reads the list and applies the lowest-id rule. */
  private async acquire(signal?: AbortSignal): Promise<LeaseStatus> {
    const name = leaseName(this.o.installationId, this.memory.self, 0);
    const sent = this.now();
    const created = await this.o.api.createAgent(name, signal, { noSchedule: true });
    this.ownId = created.id;
    const records = leaseRecords(await this.o.api.listAgents(signal), this.o.installationId);
    const lowest = records[0];
    if (lowest && lowest.id === created.id) {
      this.memory = { ...this.memory, heldSince: sent, renewedAt: sent };
      return this.status('acting', lowest, records, 'this instance holds the lease');
    }
    this.memory = { ...this.memory, heldSince: undefined, renewedAt: undefined };
    if (!records.some((r) => r.id === created.id)) {
      this.ownId = undefined;
      return this.status('standby', lowest, records, 'the new lease record vanished at once (deleted by another instance)');
    }
    const r = await this.o.api.deleteAgent(created.id, signal);
    if (r !== 'has-running-tasks') this.ownId = undefined;
    return this.status(
      'standby',
      lowest,
      records.filter((x) => x.id !== created.id),
      `another instance of this installation holds the lease (${lowest?.name ?? '?'}, a lower id than ours)`,
    );
  }

  private status(
    role: LeaseStatus['role'],
    holder: LeaseRecord | undefined,
    records: readonly LeaseRecord[],
    reason: string,
    error?: string,
  ): LeaseStatus {
    return {
      role,
      self: this.memory.self,
      holder: holder?.holder ?? null,
      record: holder ? { id: holder.id, name: holder.name } : null,
      records: records.map((r) => ({ id: r.id, name: r.name })),
      reason,
      ...(error !== undefined ? { error } : {}),
    };
  }

  /** One log line when this instance starts standing by, and one when it starts acting. */
  private announce(next: LeaseStatus): void {
    const prev = this.announced;
    this.announced = next.role;
    const log = this.o.logger;
    if (next.role === 'standby' && prev !== 'standby') {
      log.warn(
        { lease: next.record?.name ?? null, self: next.self },
        `standing by, not acting: ${next.reason}. It acts again once it is alone or the holder stops renewing for ${roughDuration(this.o.ttl)}`,
      );
    } else if (next.role === 'acting' && prev !== 'acting') {
      log.info({ lease: next.record?.name ?? null, self: next.self }, 'holding the lease: this instance acts');
    } else if (next.role === 'observing' && prev !== 'observing') {
      log.info({ lease: next.record?.name ?? null, self: next.self }, next.reason);
    }
  }
}

function holderSentence(holder: LeaseRecord | undefined): string {
  return holder
    ? `another instance of this installation holds the lease (${holder.name})`
    : 'no instance holds the lease; it is taken at the next full reconcile';
}

/** A write refused because this instance may no longer hold the lease (see `LeaseKeeper.writeBlocked`). */
export class LeaseFenceError extends Error {
  override name = 'LeaseFenceError';
}

/**
 * `target` with the methods named in `writes` refusing (rejecting with a LeaseFenceError, nothing sent) while
 * `blocked()` gives a reason. Reads pass through.
 */
export function fenceWrites<T extends object>(target: T, writes: readonly string[], blocked: () => string | undefined): T {
  return new Proxy(target, {
    get(t, prop) {
      const v: unknown = Reflect.get(t, prop, t);
      if (typeof v !== 'function') return v;
      const fn = v as (...args: unknown[]) => unknown;
      if (typeof prop === 'string' && writes.includes(prop)) {
        return (...args: unknown[]): unknown => {
          const why = blocked();
          if (why !== undefined) return Promise.reject(new LeaseFenceError(`not sent: ${why}`));
          return fn.apply(t, args);
        };
      }
      return fn.bind(t);
    },
  });
}
