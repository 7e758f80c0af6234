// D36: concurrent claims (same filters) and concurrent successes on one PostgresStore share one
// statement per batch. These tests count the statements the store sends through the real `pg`
// driver (a counting wrapper around Client.prototype.query, nothing stubbed) and check that every
// caller still gets exactly its own answer, owner and errors.
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../src/core/clock.js";
import { BatonError } from "../src/core/errors.js";
import { Engine } from "../src/engine/engine.js";
import { COMPLETE, enqueueJobs } from "../src/store/postgres/fast-paths.js";
import { newJobRecord } from "../src/store/records.js";
import type { PostgresStore } from "../src/store/postgres/postgres-store.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";

warnIfPgSkipped("coalesced claims and completions");
const db = pgTestDatabase();

/** Statements sent whose text starts like a claim, a one-statement completion, or both in one (D38). */
const sent = { claims: 0, completions: 0, combined: 0 };
const original = pg.Client.prototype.query;

function countStatements(): void {
  sent.claims = 0;
  sent.completions = 0;
  sent.combined = 0;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    const text = typeof first === "string" ? first : (first?.text ?? "");
    if (text.startsWith("WITH expired AS")) sent.claims++;
    if (text.startsWith("WITH input AS") && text.includes("done AS")) {
      if (text.includes("taken AS")) sent.combined++;
      else sent.completions++;
    }
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof pg.Client.prototype.query;
}

async function engineOn(store: PostgresStore): Promise<Engine> {
  await store.migrate();
  return new Engine(store, { clock: new ManualClock() });
}

describe.skipIf(!PG_ENABLED)("PostgresStore coalesces concurrent claims and completions (D36)", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());
  afterEach(() => {
    pg.Client.prototype.query = original;
  });

  it("16 concurrent claims for 10 jobs: 10 callers get one job each, under their own owner, in fewer statements", async () => {
    const store = db.store({ poolSize: 8 });
    const engine = await engineOn(store);
    await engine.enqueue(Array.from({ length: 10 }, (_, i) => ({ type: "c", priority: i })));
    countStatements();
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, w) => engine.claim({ owner: `w${w}`, types: ["c"], limit: 1 })),
    );
    const claimedBy = results.flatMap((claimed, w) => claimed.map((c) => ({ c, owner: `w${w}` })));
    expect(claimedBy).toHaveLength(10);
    expect(new Set(claimedBy.map(({ c }) => c.job.id)).size).toBe(10);
    expect(results.every((claimed) => claimed.length <= 1)).toBe(true);
    // The first caller's claim went alone at once; the other 15 waited for it and went together.
    expect(sent.claims).toBeLessThan(16);
    expect(results[0]![0]!.job.priority).toBe(9);
    for (const { c, owner } of claimedBy) {
      const job = await store.getJob(c.job.id);
      expect(job?.leaseOwner).toBe(owner);
      const attempts = await engine.attempts(c.job.id);
      expect(attempts.map((a) => a.owner)).toEqual([owner]);
      const events = await engine.events({ jobId: c.job.id, limit: 10 });
      expect(events.filter((e) => e.kind === "claimed").map((e) => e.actor)).toEqual([owner]);
      await engine.complete(c.job.id, { token: c.token });
    }
  });

  it("limits are kept per caller, jobs go out in priority order across the callers of one statement", async () => {
    const store = db.store({ poolSize: 8 });
    const engine = await engineOn(store);
    await engine.enqueue([10, 20, 30, 40, 50].map((priority) => ({ type: "l", priority })));
    countStatements();
    const [first, second, third, fourth] = await Promise.all([
      engine.claim({ owner: "a", types: ["l"], limit: 2 }),
      engine.claim({ owner: "b", types: ["l"], limit: 2 }),
      engine.claim({ owner: "c", types: ["l"], limit: 1 }),
      engine.claim({ owner: "d", types: ["l"], limit: 3 }),
    ]);
    // a went alone; b, c and d shared the second statement: b took the next two, c one, d none.
    expect(sent.claims).toBe(2);
    expect(first.map((c) => c.job.priority)).toEqual([50, 40]);
    expect(second.map((c) => c.job.priority)).toEqual([30, 20]);
    expect(third.map((c) => c.job.priority)).toEqual([10]);
    expect(fourth).toEqual([]);
    expect(new Set([...first, ...second, ...third].map((c) => c.token)).size).toBe(5);
  });

  it("claims with different filters are not merged: each gets only its own types", async () => {
    const store = db.store({ poolSize: 8 });
    const engine = await engineOn(store);
    await engine.enqueue([{ type: "x" }, { type: "x" }, { type: "y" }, { type: "y" }]);
    const results = await Promise.all(
      ["x", "y", "x", "y", "x", "y"].map((type, i) =>
        engine.claim({ owner: `o${i}`, types: [type], limit: 1 }),
      ),
    );
    const types = results.map((claimed) => claimed.map((c) => c.job.type));
    expect(types.slice(0, 4)).toEqual([["x"], ["y"], ["x"], ["y"]]);
    expect(types.slice(4)).toEqual([[], []]);
  });

  it("concurrent completions share statements; a stale token fails that caller alone with LEASE_LOST", async () => {
    const store = db.store({ poolSize: 8 });
    const engine = await engineOn(store);
    await engine.enqueue(Array.from({ length: 8 }, () => ({ type: "f" })));
    const claimed = await engine.claim({ owner: "w", types: ["f"], limit: 8 });
    expect(claimed).toHaveLength(8);
    countStatements();
    const settled = await Promise.allSettled(
      claimed.map((c, i) =>
        engine.complete(c.job.id, { token: i === 3 ? "not-the-token" : c.token, result: { i } }),
      ),
    );
    expect(sent.completions).toBeLessThan(8);
    settled.forEach((outcome, i) => {
      if (i === 3) {
        expect(outcome.status).toBe("rejected");
        expect(((outcome as PromiseRejectedResult).reason as BatonError).code).toBe("LEASE_LOST");
      } else {
        expect(outcome.status).toBe("fulfilled");
        const job = (outcome as PromiseFulfilledResult<{ state: string; result: unknown }>).value;
        expect(job.state).toBe("succeeded");
        expect(job.result).toEqual({ i });
      }
    });
    expect((await store.getJob(claimed[3]!.job.id))?.state).toBe("running");
    for (const [i, c] of claimed.entries()) {
      const attempts = await engine.attempts(c.job.id);
      expect(attempts.map((a) => a.outcome)).toEqual([i === 3 ? null : "succeeded"]);
      const kinds = (await engine.events({ jobId: c.job.id, limit: 10 })).map((e) => e.kind);
      expect(kinds).toEqual(i === 3 ? ["enqueued", "claimed"] : ["enqueued", "claimed", "completed"]);
    }
  });

  it("a server error caused by one caller of a shared statement is that caller's alone", async () => {
    const store = db.store({ poolSize: 8 });
    const engine = await engineOn(store);
    await engine.enqueue(Array.from({ length: 3 }, () => ({ type: "e" })));
    const claimed = await engine.claim({ owner: "w", types: ["e"], limit: 3 });
    countStatements();
    // Straight to the store (the engine refuses such an exit code as INVALID_INPUT first):
    // exit_code is an integer column and 2^40 is out of its range. The first completion goes
    // alone; the second (the bad one) and the third share a statement, which the server refuses.
    const settled = await Promise.allSettled(
      claimed.map((c, i) =>
        store.finish({
          jobId: c.job.id,
          token: c.token,
          outcome: "succeeded",
          exitCode: i === 1 ? 2 ** 40 : 0,
          actor: "t",
        }),
      ),
    );
    expect(sent.completions).toBe(2);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(/out of range/);
    const states = await Promise.all(claimed.map(async (c) => (await store.getJob(c.job.id))?.state));
    expect(states).toEqual(["succeeded", "running", "succeeded"]);
    const error = await engine
      .complete(claimed[1]!.job.id, { token: claimed[1]!.token, exitCode: 2 ** 40 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((error as BatonError).code).toBe("INVALID_INPUT");
  });

  it("the completion statement's generic plan finds each job by primary key, not by scanning jobs_lease", async () => {
    const schema = db.freshSchema();
    const store = db.store({ schema });
    const engine = await engineOn(store);
    // Dead entries in jobs_lease (one per finished claim until a vacuum) and fresh statistics:
    // what made the generic plan pick a bitmap scan of the whole partial index.
    await engine.enqueue(Array.from({ length: 4000 }, () => ({ type: "p" })));
    for (let i = 0; i < 60; i++) {
      const batch = await engine.claim({ owner: "w", types: ["p"], limit: 10 });
      await Promise.all(batch.map((c) => engine.complete(c.job.id, { token: c.token })));
    }
    await engine.claim({ owner: "w", types: ["p"], limit: 8 });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`SET search_path = ${schema}; SET plan_cache_mode = force_generic_plan`);
      await client.query(`ANALYZE jobs`);
      await client.query(`PREPARE complete_plan AS ${COMPLETE}`);
      const { rows } = await client.query<{ "QUERY PLAN": string }>(
        `EXPLAIN (COSTS OFF) EXECUTE complete_plan('{x}', '{t}', '{f}', '{NULL}', '{f}', '{NULL}', '{f}', '{NULL}', '{NULL}', '{a}', '{"}"}', 0)`,
      );
      const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
      expect(plan).toContain("jobs_pkey on jobs");
      expect(plan).not.toContain("jobs_lease");
    } finally {
      await client.end();
    }
  });

  it("a group commit of successes and a claim is one statement (D38): jobs, attempts and events as on the general path", async () => {
    const store = db.store({ poolSize: 4 });
    const engine = await engineOn(store);
    await engine.enqueue(Array.from({ length: 5 }, (_, i) => ({ type: "g", priority: i })));
    const first = await engine.claim({ owner: "w", types: ["g"], limit: 2 });
    countStatements();
    const results = await engine.batch([
      ...first.map((c) => ({
        kind: "finish" as const,
        jobId: c.job.id,
        outcome: "succeeded" as const,
        options: { token: c.token, result: { ok: c.job.priority } },
      })),
      { kind: "claim", options: { owner: "w2", types: ["g"], limit: 2 } },
    ]);
    expect(sent).toEqual({ claims: 0, completions: 0, combined: 1 });
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    for (const [i, c] of first.entries()) {
      const done = results[i]!;
      if (done.kind !== "finish" || !done.ok) throw new Error("expected a finish");
      expect(done.job).toMatchObject({ id: c.job.id, state: "succeeded", result: { ok: c.job.priority } });
      expect((await engine.attempts(c.job.id)).map((a) => [a.n, a.owner, a.outcome])).toEqual([
        [1, "w", "succeeded"],
      ]);
      const events = await engine.events({ jobId: c.job.id, limit: 10 });
      expect(events.map((e) => e.kind)).toEqual(["enqueued", "claimed", "completed"]);
    }
    const claim = results[2]!;
    if (claim.kind !== "claim" || !claim.ok) throw new Error("expected a claim");
    expect(claim.claimed.map((c) => c.job.priority)).toEqual([2, 1]);
    for (const c of claim.claimed) {
      expect(c.job).toMatchObject({ state: "running", leaseOwner: "w2", attempts: 1 });
      expect((await engine.attempts(c.job.id)).map((a) => [a.n, a.owner])).toEqual([[1, "w2"]]);
      const events = await engine.events({ jobId: c.job.id, limit: 10 });
      expect(events.map((e) => [e.kind, e.actor])).toEqual([
        ["enqueued", "library"],
        ["claimed", "w2"],
      ]);
    }
  });

  it("one statement: a stale token fails its own slot; a resource key freed by a success is claimed in the same batch", async () => {
    const store = db.store({ poolSize: 4 });
    const engine = await engineOn(store);
    await engine.enqueue([
      { type: "k", priority: 3, resourceKey: "db" },
      { type: "k", priority: 2, resourceKey: "db" },
      { type: "k", priority: 1 },
      { type: "k", priority: 0 },
    ]);
    const [held] = await engine.claim({ owner: "w", types: ["k"] });
    const [plain] = await engine.claim({ owner: "w", types: ["k"] }); // "db" is held: priority 1
    expect([held!.job.priority, plain!.job.priority]).toEqual([3, 1]);
    countStatements();
    const results = await engine.batch([
      { kind: "finish", jobId: held!.job.id, outcome: "succeeded", options: { token: held!.token } },
      { kind: "finish", jobId: plain!.job.id, outcome: "succeeded", options: { token: "stale" } },
      { kind: "claim", options: { owner: "w2", types: ["k"], limit: 2 } },
    ]);
    expect(sent.combined).toBe(1);
    expect(results[0]!.ok).toBe(true);
    const stale = results[1]!;
    expect(stale.ok).toBe(false);
    if (!stale.ok) expect(stale.error.code).toBe("LEASE_LOST");
    expect((await store.getJob(plain!.job.id))?.state).toBe("running");
    // The statement's own claim could not see "db" released (one snapshot): a second claim took
    // the shortfall, so the next "db" job is not left waiting for a wake-up.
    const claim = results[2]!;
    if (claim.kind !== "claim" || !claim.ok) throw new Error("expected a claim");
    expect(claim.claimed.map((c) => c.job.priority).sort()).toEqual([0, 2]);
    expect(sent.claims).toBe(1);
  });

  it("one statement: with an expired lease to recover, the successes commit and the claim recovers first", async () => {
    const clock = new ManualClock();
    const store = db.store({ clock });
    await store.migrate();
    const engine = new Engine(store, { clock });
    await engine.enqueue([{ type: "x", backoff: { baseMs: 0, jitter: 0 } }, { type: "x" }]);
    const [lost] = await engine.claim({ owner: "crashed", types: ["x"], leaseMs: 1_000 });
    const [mine] = await engine.claim({ owner: "w", types: ["x"], leaseMs: 60_000 });
    clock.advance(5_000);
    countStatements();
    const results = await engine.batch([
      { kind: "finish", jobId: mine!.job.id, outcome: "succeeded", options: { token: mine!.token } },
      { kind: "claim", options: { owner: "w", types: ["x"] } },
    ]);
    expect(sent.combined).toBe(1);
    expect(results[0]!.ok).toBe(true);
    expect((await store.getJob(mine!.job.id))?.state).toBe("succeeded");
    const claim = results[1]!;
    if (claim.kind !== "claim" || !claim.ok) throw new Error("expected a claim");
    expect(claim.claimed.map((c) => [c.job.id, c.attempt])).toEqual([[lost!.job.id, 2]]);
  });

  it("a group commit's claim still recovers an expired lease first (then claims it again at once: no backoff)", async () => {
    const clock = new ManualClock();
    const store = db.store({ clock });
    await store.migrate();
    const engine = new Engine(store, { clock });
    await engine.enqueue({ type: "r", backoff: { baseMs: 0, jitter: 0 } });
    const [lost] = await engine.claim({ owner: "crashed", types: ["r"], leaseMs: 1_000 });
    clock.advance(5_000);
    const [result] = await engine.batch([{ kind: "claim", options: { owner: "w", types: ["r"] } }]);
    if (result?.kind !== "claim" || !result.ok) throw new Error("expected a claim");
    expect(result.claimed.map((c) => [c.job.id, c.attempt])).toEqual([[lost!.job.id, 2]]);
    expect((await engine.attempts(lost!.job.id)).map((a) => a.owner)).toEqual(["crashed", "w"]);
  });

  it("a group commit with other outcomes is one transaction, whose last claim is still one statement", async () => {
    const store = db.store({ poolSize: 4 });
    const engine = await engineOn(store);
    await engine.enqueue(Array.from({ length: 5 }, (_, i) => ({ type: "m", priority: i })));
    const [a, b] = await engine.claim({ owner: "w", types: ["m"], limit: 2 });
    countStatements();
    const results = await engine.batch([
      { kind: "finish", jobId: a!.job.id, outcome: "failed", options: { token: a!.token, error: "no" } },
      { kind: "finish", jobId: b!.job.id, outcome: "succeeded", options: { token: b!.token } },
      { kind: "claim", options: { owner: "w3", types: ["m"], limit: 2 } },
    ]);
    expect(sent.claims).toBe(1);
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    const claim = results[2]!;
    if (claim.kind !== "claim" || !claim.ok) throw new Error("expected a claim");
    expect(claim.claimed.map((c) => [c.job.priority, c.job.leaseOwner])).toEqual([
      [2, "w3"],
      [1, "w3"],
    ]);
    expect((await store.getJob(a!.job.id))?.state).toBe("retrying");
    expect((await store.getJob(b!.job.id))?.state).toBe("succeeded");
  });
  it("an enqueue retried after a broken connection skips the rows its first try committed (one row, many rows)", async () => {
    const store = db.store();
    const engine = await engineOn(store);
    const connection = store["db"];
    for (const size of [1, 3]) {
      const specs = Array.from({ length: size }, (_, i) => engine.prepare({ type: "e", payload: { i } }));
      const records = specs.map((spec) => newJobRecord(spec, "queued", 1_000));
      const payloads = specs.map((spec) => spec.payload);
      const send = (retry: boolean) => enqueueJobs(connection, records, payloads, 1_000, "t", "wake", retry);
      expect(await send(false)).toBe(size);
      // A first try that had committed: the retry inserts nothing and says so.
      expect(await send(true)).toBe(0);
      await expect(send(false)).rejects.toThrow(); // without the retry clause an existing id is an error
      for (const [i, spec] of specs.entries()) {
        expect(await store.getJob(spec.id)).toMatchObject({ type: "e", state: "queued", payload: { i } });
        const events = await engine.events({ jobId: spec.id, limit: 10 });
        expect(events.map((e) => e.kind)).toEqual(["enqueued"]);
      }
    }
  });
});
