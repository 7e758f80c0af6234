/**
 * A rate limit shared by every process on one ledger: at most `max` starts per `intervalMs`.
 *
 * Each start takes one of `max` named slots (`ratelimit:<type>:<i>`) as a ledger lock that expires
 * after `intervalMs`, so any window of that length holds at most `max` starts (a sliding window,
 * which is stricter than a token bucket's burst). A slot taken for a claim that found no job is
 * given back at once. The locks are the same rows as every other named lock: no new table.
 */
import type { LockInfo, Store } from "../store/types.js";

export interface RateLimit {
  max: number;
  intervalMs: number;
}

export type SlotAnswer = { ok: true; slot: LockInfo } | { ok: false; retryAt: number };

export class LedgerRateLimiter {
  private readonly prefix: string;

  constructor(
    private readonly store: Store,
    type: string,
    private readonly limit: RateLimit,
    private readonly owner: string,
  ) {
    this.prefix = `ratelimit:${type}:`;
  }

  /** Take a slot, or say when the next one frees up. */
  async take(): Promise<SlotAnswer> {
    const live = await this.store.listLocks(this.prefix);
    const taken = new Set(live.map((l) => l.name));
    for (let i = 0; i < this.limit.max; i++) {
      const name = `${this.prefix}${i}`;
      if (taken.has(name)) continue;
      // Another process may take it between the list and here: the lock itself decides.
      const answer = await this.store.acquireLock(name, this.owner, this.limit.intervalMs);
      if (answer.acquired) return { ok: true, slot: answer.lock };
      live.push(answer.lock);
    }
    const retryAt = Math.min(...live.map((l) => l.expiresAt));
    return { ok: false, retryAt: Number.isFinite(retryAt) ? retryAt : Date.now() + this.limit.intervalMs };
  }

  /** Give back a slot that started nothing. */
  async giveBack(slot: LockInfo): Promise<void> {
    await this.store.releaseLock(slot.name, slot.token);
  }
}
