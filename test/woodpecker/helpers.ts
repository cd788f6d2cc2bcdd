import type { Clock } from '../../src/util/clock.js';
import { seededRandom } from '../../src/util/clock.js';
import { createFakeWoodpecker } from '../../src/sandbox/fake-woodpecker.js';
import type { FakeWoodpecker, FakeWoodpeckerOptions } from '../../src/sandbox/fake-woodpecker.js';

/** Auto-advancing test clock: `sleep` advances the clock at once and records the delay; nothing really waits. */
export class AutoClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(public t = Date.UTC(2026, 0, 1, 12, 0, 0)) {}
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    this.sleeps.push(ms);
    this.t += Math.max(0, ms);
    return Promise.resolve();
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
export const USER_TOKEN = 'user-token-0123456789abcdef';

export function makeFake(
  extra: Partial<FakeWoodpeckerOptions> = {},
): { fake: FakeWoodpecker; clock: AutoClock } {
  const clock = new AutoClock();
  const fake = createFakeWoodpecker({
    clock,
    random: seededRandom(42),
    adminToken: ADMIN_TOKEN,
    nonAdminToken: USER_TOKEN,
    pick: 'first',
    ...extra,
  });
  return { fake, clock };
}

export const sec = (ms: number): number => Math.floor(ms / 1000);
