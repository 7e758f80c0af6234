/**
 * Group commit: claims, heartbeats and finishes submitted while a write is in flight (or in the
 * same turn of the event loop) are committed together in the next single transaction, through
 * {@link Engine.batch}. Under synchronous=FULL a commit costs one fsync, so a busy worker pays one
 * fsync per batch instead of one per claim and per completion.
 *
 * Durability is unchanged: each caller's promise settles only after the commit that holds its
 * write, and each item keeps its own checks (a stale fencing token fails that item alone).
 *
 * @example
 * const writes = new GroupCommit(engine);
 * const [done, next] = await Promise.all([
 *   writes.finish(job.id, "succeeded", { token }),
 *   writes.claim(() => ({ owner: "w1", types: ["email"], limit: 1 })),
 * ]); // one transaction
 */
import type { ClaimedJob, Job } from "../core/job.js";
import type { BatchResult, FinishOutcome } from "../store/types.js";
import type { ClaimOptions, Engine, EngineBatchOp, FinishOptions } from "./engine.js";

interface Pending {
  claim: boolean;
  /** Resolved when the batch is cut: a claim's options are computed then (undefined: skip it). */
  op: () => EngineBatchOp | undefined;
  resolve: (result: BatchResult | undefined) => void;
  reject: (error: unknown) => void;
}

/** Largest batch in one transaction (a bound on how long one transaction holds the write lock). */
const MAX_BATCH = 256;

export class GroupCommit {
  private readonly engine: Engine;
  private pending: Pending[] = [];
  private running = false;

  constructor(engine: Engine) {
    this.engine = engine;
  }

  /**
   * Claim in the next batch. `options` is called when the batch is cut, so a caller that frees
   * slots meanwhile claims for all of them; returning undefined claims nothing. Claims go after the
   * batch's other writes, so jobs finished in the same batch free their resources first.
   */
  async claim(options: () => ClaimOptions | undefined): Promise<ClaimedJob[]> {
    const result = await this.submit(true, () => {
      const o = options();
      return o === undefined ? undefined : { kind: "claim", options: o };
    });
    if (result === undefined) return [];
    if (result.kind !== "claim" || !result.ok) throw failure(result);
    return result.claimed;
  }

  async heartbeat(jobId: string, token: string, leaseMs?: number): Promise<{ leaseExpiresAt: number }> {
    const result = await this.submit(false, () => ({
      kind: "heartbeat",
      jobId,
      token,
      ...(leaseMs === undefined ? {} : { leaseMs }),
    }));
    if (result?.kind !== "heartbeat" || !result.ok) throw failure(result);
    return { leaseExpiresAt: result.leaseExpiresAt };
  }

  async finish(jobId: string, outcome: FinishOutcome, options: FinishOptions): Promise<Job> {
    const result = await this.submit(false, () => ({ kind: "finish", jobId, outcome, options }));
    if (result?.kind !== "finish" || !result.ok) throw failure(result);
    return result.job;
  }

  private submit(claim: boolean, op: () => EngineBatchOp | undefined): Promise<BatchResult | undefined> {
    return new Promise((resolve, reject) => {
      this.pending.push({ claim, op, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Let everything submitted in this turn of the event loop join the first batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const cut = this.pending.splice(0, MAX_BATCH);
        // Claims last: they see the batch's finishes (freed resources) and the slots freed so far.
        const ordered = [...cut.filter((p) => !p.claim), ...cut.filter((p) => p.claim)];
        const items: { pending: Pending; op: EngineBatchOp }[] = [];
        for (const pending of ordered) {
          let op: EngineBatchOp | undefined;
          try {
            op = pending.op();
          } catch (error) {
            pending.reject(error);
            continue;
          }
          if (op === undefined) pending.resolve(undefined);
          else items.push({ pending, op });
        }
        if (items.length === 0) continue;
        try {
          const results = await this.engine.batch(items.map((i) => i.op));
          items.forEach((item, k) => item.pending.resolve(results[k]));
        } catch (error) {
          // The store failed: the batch committed nothing, so every item failed. (PostgreSQL's
          // two-statement batches put a failure after their successes committed in its slot.)
          for (const item of items) item.pending.reject(error);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

function failure(result: BatchResult | undefined): Error {
  if (result !== undefined && !result.ok) return result.error;
  return new Error(`group commit: unexpected answer ${JSON.stringify(result)}`);
}
