/**
 * Batch writes and group commit (`Store.batch`, `Engine.batch`, `GroupCommit`), part of the store
 * conformance suite: dialect-neutral, run against SQLite and PostgreSQL alike.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ManualClock } from "../../src/core/clock.js";
import { BatonError } from "../../src/core/errors.js";
import type { Engine } from "../../src/engine/engine.js";
import { GroupCommit } from "../../src/engine/group-commit.js";
import type { BatchResult, Store } from "../../src/store/types.js";
import type { FixtureLibrary } from "../fixtures/library.js";
import { buildFixtureLibrary } from "../fixtures/library.js";

const CLIENT = join(import.meta.dirname, "..", "fixtures", "batch-claim-client.mjs");

/** How a child process opens the harness's store: a SQLite file, or a PostgreSQL URL and schema. */
export type ChildConnection = { db: string } | { url: string; schema: string };

function ok<K extends BatchResult["kind"]>(result: BatchResult | undefined, kind: K) {
  expect(result, `a ${kind} result`).toMatchObject({ kind, ok: true });
  return result as Extract<BatchResult, { kind: K; ok: true }>;
}

function failedWith(result: BatchResult | undefined, code: string): BatonError {
  expect(result?.ok, `expected the item to fail with ${code}`).toBe(false);
  const error = (result as { error: unknown }).error;
  expect(error).toBeInstanceOf(BatonError);
  expect((error as BatonError).code).toBe(code);
  return error as BatonError;
}

function runClient(args: Record<string, unknown>): Promise<{ completed: string[]; errors: unknown[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLIENT, JSON.stringify(args)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`batch client exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split("\n").pop()!) as { completed: string[]; errors: unknown[] });
    });
  });
}

/** What the enclosing conformance suite set up for the current test. */
export interface BatchContext {
  store: Store;
  clock: ManualClock;
  engine: Engine;
}

/** Registered inside `describeStoreConformance`, whose hooks make a fresh store for each test. */
export function describeBatchConformance(
  context: () => BatchContext,
  child: (store: Store) => ChildConnection | undefined,
): void {
  describe("batch writes and group commit", () => {
    let store: Store;
    let clock: ManualClock;
    let engine: Engine;

    beforeEach(() => {
      ({ store, clock, engine } = context());
    });

    async function enqueue(n: number, type = "b"): Promise<string[]> {
      const outcomes = await engine.enqueue(Array.from({ length: n }, (_, i) => ({ type, payload: { i } })));
      return outcomes.map((o) => o.job.id);
    }

    it("a batch claim gives each job its own attempt and fencing token; outcomes and the next claim commit together", async () => {
      const ids = await enqueue(5);
      const [first] = await engine.batch([
        { kind: "claim", options: { owner: "w", types: ["b"], limit: 3 } },
      ]);
      const claimed = ok(first, "claim").claimed;
      expect(claimed.map((c) => c.job.id)).toEqual(ids.slice(0, 3));
      expect(new Set(claimed.map((c) => c.token)).size).toBe(3);
      for (const c of claimed) {
        expect(c.attempt).toBe(1);
        expect(c.job.state).toBe("running");
        expect(await store.attempts(c.job.id)).toMatchObject([{ n: 1, owner: "w", outcome: null }]);
      }
      const results = await engine.batch([
        ...claimed.map((c) => ({
          kind: "finish" as const,
          jobId: c.job.id,
          outcome: "succeeded" as const,
          options: { token: c.token, result: { id: c.job.id } },
        })),
        { kind: "heartbeat", jobId: claimed[0]!.job.id, token: claimed[0]!.token },
        { kind: "claim", options: { owner: "w", types: ["b"], limit: 5 } },
      ]);
      for (let i = 0; i < 3; i++) {
        expect(ok(results[i], "finish").job).toMatchObject({ state: "succeeded", result: { id: ids[i] } });
      }
      // The heartbeat came after its job's completion in the same batch: that item alone fails.
      failedWith(results[3], "LEASE_LOST");
      expect(ok(results[4], "claim").claimed.map((c) => c.job.id)).toEqual(ids.slice(3));
      for (const id of ids.slice(0, 3)) expect((await store.attempts(id))[0]?.outcome).toBe("succeeded");
    });

    it("a stale token inside a group commit fails alone and changes nothing of its job", async () => {
      await enqueue(3);
      const mine = ok(
        (await engine.batch([{ kind: "claim", options: { owner: "old", limit: 3, leaseMs: 1000 } }]))[0],
        "claim",
      ).claimed;
      const [a, b, c] = mine as [(typeof mine)[0], (typeof mine)[0], (typeof mine)[0]];
      // b's lease runs out and another worker takes it over: `old`'s token for b is stale.
      await engine.heartbeat(a.job.id, a.token, 3_600_000);
      await engine.heartbeat(c.job.id, c.token, 3_600_000);
      clock.advance(2000);
      await engine.recover();
      clock.advance(600_000);
      const [taken] = await engine.claim({ owner: "new", limit: 1, leaseMs: 3_600_000 });
      expect(taken?.job.id).toBe(b.job.id);
      const before = {
        events: await store.events({ jobId: b.job.id, limit: 100 }),
        attempts: await store.attempts(b.job.id),
      };

      const writes = new GroupCommit(engine);
      const settled = await Promise.allSettled([
        writes.finish(a.job.id, "succeeded", { token: a.token }),
        writes.finish(b.job.id, "succeeded", { token: b.token }),
        writes.heartbeat(b.job.id, b.token),
        writes.finish(c.job.id, "failed", { token: c.token, error: "boom", noRetry: true }),
      ]);
      expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
      for (const s of settled.filter((x) => x.status === "rejected")) {
        expect((s.reason as BatonError).code).toBe("LEASE_LOST");
      }
      expect((await store.getJob(a.job.id))?.state).toBe("succeeded");
      expect((await store.getJob(c.job.id))?.state).toBe("failed");
      const bNow = await store.getJob(b.job.id);
      expect(bNow).toMatchObject({
        state: "running",
        leaseOwner: "new",
        leaseExpiresAt: taken!.leaseExpiresAt,
      });
      expect(await store.events({ jobId: b.job.id, limit: 100 })).toEqual(before.events);
      expect(await store.attempts(b.job.id)).toEqual(before.attempts);
      // The new owner's token still works.
      await engine.complete(b.job.id, { token: taken!.token });
    });

    it("many successes in one batch: results, evidence and exit codes kept; a job with dependents releases them; events in batch order", async () => {
      const [parent] = await enqueue(1);
      const [child] = (await engine.enqueue({ type: "later", dependsOn: [parent!] })).map((o) => o.job.id);
      const ids = [parent!, ...(await enqueue(3))];
      const claimed = await engine.claim({ owner: "w", types: ["b"], limit: 4 });
      expect(claimed.map((c) => c.job.id)).toEqual(ids);
      // Newest first, so that batch order differs from claim order.
      const order = [...claimed].reverse();
      const results = await engine.batch(
        order.map((c, i) => ({
          kind: "finish" as const,
          jobId: c.job.id,
          outcome: "succeeded" as const,
          options: {
            token: c.token,
            result: { n: i },
            evidence: `checked ${i}`,
            exitCode: 0,
            actor: `a${i}`,
          },
        })),
      );
      order.forEach((c, i) => {
        expect(ok(results[i], "finish").job).toMatchObject({
          id: c.job.id,
          state: "succeeded",
          result: { n: i },
          evidence: `checked ${i}`,
        });
      });
      expect((await store.getJob(child!))?.state).toBe("queued");
      const completed = (await store.events({ types: ["b"], limit: 100 })).filter(
        (e) => e.kind === "completed",
      );
      expect(completed.map((e) => [e.jobId, e.actor])).toEqual(order.map((c, i) => [c.job.id, `a${i}`]));
      expect(completed[0]?.details).toMatchObject({ attempt: 1, exitCode: 0, evidence: "checked 0" });
      for (const id of ids) {
        expect(await store.attempts(id)).toMatchObject([{ n: 1, outcome: "succeeded", exitCode: 0 }]);
      }
    });

    it("per-item failures: an unknown job, a finished job and a result too large fail in their slots", async () => {
      const [id] = await enqueue(1);
      const [claimed] = await engine.claim({ owner: "w", limit: 1 });
      const results = await engine.batch([
        {
          kind: "finish",
          jobId: "01NOSUCHJOB0000000000000000",
          outcome: "succeeded",
          options: { token: "x" },
        },
        {
          kind: "finish",
          jobId: id!,
          outcome: "succeeded",
          options: { token: claimed!.token, result: "x".repeat(2 * 1024 * 1024) },
        },
        { kind: "finish", jobId: id!, outcome: "succeeded", options: { token: claimed!.token } },
        { kind: "finish", jobId: id!, outcome: "failed", options: { token: claimed!.token } },
      ]);
      failedWith(results[0], "JOB_NOT_FOUND");
      failedWith(results[1], "PAYLOAD_TOO_LARGE");
      expect(ok(results[2], "finish").job.state).toBe("succeeded");
      failedWith(results[3], "LEASE_LOST");
      expect((await store.getJob(id!))?.result).toBeNull();
    });

    it("GroupCommit: writes submitted together go in one transaction, claims after the outcomes", async () => {
      await enqueue(4);
      await engine.enqueue({ type: "r", resourceKey: "res" });
      await engine.enqueue({ type: "r", resourceKey: "res" });
      const [holder] = await engine.claim({ owner: "w", types: ["r"], limit: 2 });
      const claimed = await engine.claim({ owner: "w", types: ["b"], limit: 4 });
      let batches = 0;
      const batch = store.batch.bind(store);
      store.batch = (ops) => {
        batches++;
        return batch(ops);
      };
      const writes = new GroupCommit(engine);
      let room = 0;
      const nextClaim = writes.claim(() =>
        room > 0 ? { owner: "w", types: ["r"], limit: room } : undefined,
      );
      const finishes = [holder!, ...claimed].map((c) =>
        writes.finish(c.job.id, "succeeded", { token: c.token }),
      );
      room = 1; // computed when the batch is cut, after these submissions
      await Promise.all(finishes);
      // The second `r` job shares the resource of the first: claimable only after it finished.
      expect((await nextClaim).map((c) => c.job.type)).toEqual(["r"]);
      expect(batches).toBe(1);
      expect(await writes.claim(() => undefined)).toEqual([]);
      expect(batches).toBe(1);
    });

    describe("across processes", () => {
      let library: FixtureLibrary;
      beforeAll(async () => {
        library = await buildFixtureLibrary();
      }, 120_000);
      afterAll(() => library?.remove());

      it("batch claims by three processes never hand one job to two workers", async () => {
        const connection = child(store);
        expect(connection, "the harness says how a child opens the store").toBeDefined();
        const ids = await enqueue(300, "multi");
        const outs = await Promise.all(
          [0, 1, 2].map(() => runClient({ lib: library.url, type: "multi", limit: 7, ...connection })),
        );
        const all = outs.flatMap((o) => o.completed);
        expect(outs.flatMap((o) => o.errors)).toEqual([]);
        expect(all).toHaveLength(300);
        expect(new Set(all)).toEqual(new Set(ids));
        for (const id of ids) {
          const attempts = await store.attempts(id);
          expect(attempts.map((x) => x.outcome)).toEqual(["succeeded"]);
        }
      }, 180_000);
    });
  });
}
