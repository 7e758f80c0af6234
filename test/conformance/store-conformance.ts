/**
 * The store conformance suite: the whole {@link Store} contract, exercised through an {@link Engine}
 * built over the store. Dialect-neutral: it uses only the Store/Engine API, so it runs unchanged
 * against SQLite and PostgreSQL.
 *
 * @example
 * describeStoreConformance("sqlite", async () => {
 *   const clock = new ManualClock();
 *   const store = new SqliteStore({ path, clock });
 *   await store.migrate();
 *   return { store, clock, cleanup: () => store.close() };
 * });
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ManualClock } from "../../src/core/clock.js";
import { BatonError } from "../../src/core/errors.js";
import { shortId } from "../../src/core/ids.js";
import type { Attempt, Job, JobEvent } from "../../src/core/job.js";
import type { JobState } from "../../src/core/states.js";
import { isTerminal } from "../../src/core/states.js";
import { Engine } from "../../src/engine/engine.js";
import type { StateCount, Store, WorkflowCount } from "../../src/store/types.js";
import type { ChildConnection } from "./batch-conformance.js";
import { describeBatchConformance } from "./batch-conformance.js";

export interface ConformanceHarness {
  /** A migrated, empty store whose clock is `clock`. */
  store: Store;
  clock: ManualClock;
  cleanup: () => Promise<void>;
}

const SECOND = 1000;
const DAY = 86_400_000;
/** Backoff without jitter, so retry times are exact. */
const EXACT_BACKOFF = { baseMs: 1000, factor: 2, maxMs: 60_000, jitter: 0 };

/** Await a promise that must reject with a BatonError of `code`; returns the error. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<BatonError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a rejection with ${code}`).toBeInstanceOf(BatonError);
  expect((error as BatonError).code).toBe(code);
  return error as BatonError;
}

/** A small deterministic PRNG (mulberry32), so random cases replay identically. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Strings that break naive storage: NUL, emoji, combining marks, lone surrogates, RTL, BOM. */
const NASTY_STRINGS = [
  "",
  "plain ascii",
  "héllo wörld",
  "日本語のテキスト",
  "emoji 😀🎉 and family 👩‍👩‍👧‍👦 and flag 🇫🇷",
  "NUL in the middle \u0000 and at the end \u0000",
  "\u0000",
  "lone high surrogate \ud800 here",
  "lone low surrogate \udfff here",
  "reversed pair \udc00\ud800",
  "\ud83d",
  "combining e\u0301 and zero-width \u200b joiner \u200d",
  "right-to-left \u202e txet",
  "\ufeffBOM first",
  "control \u0001\u0002\u001f\u007f chars",
  "quotes ' \" ` and backslash \\ and \\u0000 literal",
  "newlines\r\n\ttabs\n",
  "%_ LIKE metacharacters %%",
  '"; DROP TABLE jobs; --',
  "max BMP \uffff and non-character \ufffe",
  "astral 𝕏𝔸𝕄 \u{10ffff}",
];

export function describeStoreConformance(
  label: string,
  makeStore: () => Promise<ConformanceHarness>,
  child?: (store: Store) => ChildConnection,
): void {
  describe(`store conformance: ${label}`, () => {
    let harness: ConformanceHarness;
    let store: Store;
    let clock: ManualClock;
    let engine: Engine;

    beforeEach(async () => {
      harness = await makeStore();
      store = harness.store;
      clock = harness.clock;
      engine = new Engine(store, { clock, actor: "test" });
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    describeBatchConformance(() => ({ store, clock, engine }), child ?? (() => undefined));

    /** Enqueue one job and return it. */
    async function add(spec: Record<string, unknown> = {}): Promise<Job> {
      const [outcome] = await engine.enqueue({ type: "t", ...spec });
      expect(outcome?.deduplicated).toBe(false);
      return outcome!.job;
    }

    async function claimOne(owner = "w1", options: { types?: string[]; leaseMs?: number } = {}) {
      const claimed = await engine.claim({ owner, ...options });
      expect(claimed, `expected ${owner} to claim a job`).toHaveLength(1);
      return claimed[0]!;
    }

    async function job(id: string): Promise<Job> {
      const found = await store.getJob(id);
      expect(found, `job ${id} exists`).toBeDefined();
      return found!;
    }

    async function eventsOf(id: string): Promise<JobEvent[]> {
      return store.events({ jobId: id, limit: 1000 });
    }

    /** kind:from>to for each event of a job, oldest first. */
    async function trail(id: string): Promise<string[]> {
      return (await eventsOf(id)).map((e) => `${e.kind}:${e.fromState ?? "-"}>${e.toState ?? "-"}`);
    }

    async function snapshot(
      id: string,
    ): Promise<{ job: Job | undefined; attempts: Attempt[]; events: JobEvent[] }> {
      return { job: await store.getJob(id), attempts: await store.attempts(id), events: await eventsOf(id) };
    }

    async function ids(claimed: Promise<{ job: Job }[]>): Promise<string[]> {
      return (await claimed).map((c) => c.job.id);
    }

    /** No job is ever stranded: it is terminal, claimable now or later, waiting on deps, or leased. */
    function expectNotStranded(j: Job): void {
      switch (j.state) {
        case "succeeded":
        case "failed":
        case "timed_out":
        case "cancelled":
        case "skipped":
          expect(j.finishedAt).not.toBeNull();
          return;
        case "queued":
        case "retrying":
          expect(Number.isFinite(j.runAt)).toBe(true);
          return;
        case "running":
          expect(j.leaseExpiresAt).not.toBeNull();
          return;
        case "waiting":
          expect(j.dependsOn.length).toBeGreaterThan(0);
          return;
        default: {
          const never: never = j.state;
          throw new Error(`unexpected state ${String(never)}`);
        }
      }
    }

    // ---------------------------------------------------------------------------------------------
    describe("enqueue", () => {
      it("stores a single job with its defaults and an enqueued event", async () => {
        const now = clock.now();
        const [outcome] = await engine.enqueue(
          { type: "edit_file", payload: { path: "a.ts" }, name: "first", workflow: "docs", tags: ["x", "y"] },
          { project: "/p" },
        );
        expect(outcome!.deduplicated).toBe(false);
        const j = await job(outcome!.job.id);
        expect(j).toMatchObject({
          type: "edit_file",
          name: "first",
          payload: { path: "a.ts" },
          state: "queued",
          priority: 0,
          runAt: now,
          attempts: 0,
          maxAttempts: 3,
          workflow: "docs",
          project: "/p",
          tags: ["x", "y"],
          dependsOn: [],
          leaseOwner: null,
          leaseExpiresAt: null,
          result: null,
          evidence: null,
          error: null,
          createdAt: now,
          startedAt: null,
          finishedAt: null,
          archivedAt: null,
        });
        expect(j).toEqual(outcome!.job);
        expect(j).not.toHaveProperty("leaseToken");
        const events = await eventsOf(j.id);
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({
          jobId: j.id,
          kind: "enqueued",
          fromState: null,
          toState: "queued",
          workflow: "docs",
          project: "/p",
          actor: "test",
          at: now,
        });
      });

      it("stores a batch in order, each with its own id", async () => {
        const outcomes = await engine.enqueue([1, 2, 3, 4, 5].map((n) => ({ type: "t", payload: { n } })));
        expect(outcomes).toHaveLength(5);
        expect(new Set(outcomes.map((o) => o.job.id)).size).toBe(5);
        const listed = await engine.list({}, { limit: 10, order: "asc" });
        expect(listed.map((j) => j.payload)).toEqual([1, 2, 3, 4, 5].map((n) => ({ n })));
        expect(listed.map((j) => j.id)).toEqual(outcomes.map((o) => o.job.id));
      });

      it("a batch with one invalid job writes nothing", async () => {
        await rejectsWith(engine.enqueue([{ type: "t" }, { type: "" }, { type: "t" }]), "INVALID_INPUT");
        await rejectsWith(engine.enqueue([{ type: "t" }, { type: "t", priority: "high" }]), "INVALID_INPUT");
        await rejectsWith(engine.enqueue([{ type: "t" }, { type: "t", unknownField: 1 }]), "INVALID_INPUT");
        expect(await engine.count({ includeArchived: true })).toBe(0);
        expect(await store.events({ limit: 10 })).toEqual([]);
      });

      it("a batch with one dangling dependency writes nothing (DEPENDENCY_NOT_FOUND)", async () => {
        const dep = await add();
        const error = await rejectsWith(
          engine.enqueue([
            { type: "t", idempotencyKey: "k1" },
            { type: "t", dependsOn: [dep.id] },
            { type: "t", dependsOn: [dep.id, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"] },
          ]),
          "DEPENDENCY_NOT_FOUND",
        );
        expect(error.message).toContain("01ZZZZZZZZZZZZZZZZZZZZZZZZ");
        expect((await engine.list({}, { limit: 10 })).map((j) => j.id)).toEqual([dep.id]);
        expect(await store.events({ limit: 10 })).toHaveLength(1);
        // The key of the rolled-back job is free.
        const [again] = await engine.enqueue({ type: "t", idempotencyKey: "k1" });
        expect(again!.deduplicated).toBe(false);
      });

      it("an oversized payload is PAYLOAD_TOO_LARGE and writes nothing; the limit itself is accepted", async () => {
        const small = new Engine(store, { clock, maxPayloadBytes: 4096 });
        // JSON of a string of n ASCII characters is n + 2 bytes.
        const [ok] = await small.enqueue({ type: "t", payload: "x".repeat(4094) });
        expect((await job(ok!.job.id)).payload).toBe("x".repeat(4094));
        await rejectsWith(small.enqueue({ type: "t", payload: "x".repeat(4095) }), "PAYLOAD_TOO_LARGE");
        await rejectsWith(
          small.enqueue([{ type: "t" }, { type: "t", payload: "é".repeat(2048) }]),
          "PAYLOAD_TOO_LARGE",
        );
        expect(await engine.count({})).toBe(1);
      });

      it("values JSON cannot hold are INVALID_INPUT and write nothing", async () => {
        for (const payload of [{ n: Number.NaN }, { n: Infinity }, { b: 10n }, { f: () => 1 }, Symbol("s")]) {
          await rejectsWith(engine.enqueue({ type: "t", payload }), "INVALID_INPUT");
        }
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        await rejectsWith(engine.enqueue({ type: "t", payload: cyclic }), "INVALID_INPUT");
        expect(await engine.count({})).toBe(0);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("idempotency keys", () => {
      it("a key returns its job, live or finished (D52); 'while-live' makes a new job once it finished", async () => {
        const first = await add({ idempotencyKey: "build-42" });
        const [dup] = await engine.enqueue({
          type: "t",
          idempotencyKey: "build-42",
          payload: { other: true },
        });
        expect(dup).toMatchObject({ deduplicated: true, job: { id: first.id, payload: {} } });

        const claimed = await claimOne();
        const [whileRunning] = await engine.enqueue({ type: "t", idempotencyKey: "build-42" });
        expect(whileRunning).toMatchObject({ deduplicated: true, job: { id: first.id, state: "running" } });

        await engine.complete(first.id, { token: claimed.token });
        const [kept] = await engine.enqueue({ type: "t", idempotencyKey: "build-42" });
        expect(kept).toMatchObject({ deduplicated: true, job: { id: first.id, state: "succeeded" } });
        const [fresh] = await engine.enqueue({
          type: "t",
          idempotencyKey: "build-42",
          idempotencyScope: "while-live",
        });
        expect(fresh!.deduplicated).toBe(false);
        expect(fresh!.job.id).not.toBe(first.id);
        expect(await engine.count({})).toBe(2);
        // A deduplicated enqueue appends no event.
        expect(await trail(first.id)).toEqual([
          "enqueued:->queued",
          "claimed:queued>running",
          "completed:running>succeeded",
        ]);
      });

      it("waiting and retrying jobs hold their key; failed and cancelled ones keep it unless 'while-live'", async () => {
        const dep = await add({ type: "other" });
        const waiting = await add({ idempotencyKey: "kw", dependsOn: [dep.id] });
        expect(waiting.state).toBe("waiting");
        expect((await engine.enqueue({ type: "t", idempotencyKey: "kw" }))[0]).toMatchObject({
          deduplicated: true,
          job: { id: waiting.id },
        });

        const retrying = await add({ type: "r", idempotencyKey: "kr", backoff: EXACT_BACKOFF });
        const c = await claimOne("w1", { types: ["r"] });
        await engine.fail(retrying.id, { token: c.token, error: "boom" });
        expect((await job(retrying.id)).state).toBe("retrying");
        expect((await engine.enqueue({ type: "r", idempotencyKey: "kr" }))[0]!.job.id).toBe(retrying.id);

        await engine.cancel(retrying.id);
        expect((await engine.enqueue({ type: "r", idempotencyKey: "kr" }))[0]).toMatchObject({
          deduplicated: true,
          job: { id: retrying.id, state: "cancelled" },
        });
        const live = { idempotencyScope: "while-live" } as const;
        expect((await engine.enqueue({ type: "r", idempotencyKey: "kr", ...live }))[0]!.deduplicated).toBe(
          false,
        );
        const failing = await add({ type: "f", idempotencyKey: "kf" });
        await engine.fail(failing.id, { error: "no" });
        expect((await engine.enqueue({ type: "f", idempotencyKey: "kf" }))[0]!.job.id).toBe(failing.id);
        expect((await engine.enqueue({ type: "f", idempotencyKey: "kf", ...live }))[0]!.deduplicated).toBe(
          false,
        );
      });

      it("the same key twice in one batch yields one job", async () => {
        const outcomes = await engine.enqueue([
          { type: "t", idempotencyKey: "same" },
          { type: "t", idempotencyKey: "same" },
        ]);
        expect(outcomes.map((o) => o.deduplicated)).toEqual([false, true]);
        expect(outcomes[1]!.job.id).toBe(outcomes[0]!.job.id);
        expect(await engine.count({})).toBe(1);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("dependencies", () => {
      it("a job waits until every dependency succeeded or was skipped, then is queued", async () => {
        const a = await add({ type: "a" });
        const b = await add({ type: "b" });
        const c = await add({ type: "c", dependsOn: [a.id, b.id] });
        expect(c.state).toBe("waiting");
        expect(await ids(engine.claim({ owner: "w", types: ["c"], limit: 5 }))).toEqual([]);

        const claimed = await claimOne("w", { types: ["a"] });
        await engine.complete(a.id, { token: claimed.token });
        expect((await job(c.id)).state).toBe("waiting");

        await engine.skip(b.id);
        expect((await job(c.id)).state).toBe("queued");
        const unblocked = (await eventsOf(c.id)).at(-1)!;
        expect(unblocked).toMatchObject({ kind: "unblocked", fromState: "waiting", toState: "queued" });
        expect(await ids(engine.claim({ owner: "w", types: ["c"] }))).toEqual([c.id]);
      });

      it("a job whose dependencies are already satisfied is queued at once", async () => {
        const a = await add();
        await engine.complete(a.id);
        const b = await add({ dependsOn: [a.id] });
        expect(b.state).toBe("queued");
        expect(b.dependsOn).toEqual([a.id]);
      });

      it("a failed dependency keeps the dependent waiting until it is redriven and succeeds", async () => {
        const a = await add({ type: "a", maxAttempts: 1 });
        const b = await add({ type: "b", dependsOn: [a.id] });
        const c1 = await claimOne("w", { types: ["a"] });
        await engine.fail(a.id, { token: c1.token, error: "boom" });
        expect((await job(a.id)).state).toBe("failed");
        expect((await job(b.id)).state).toBe("waiting");
        await engine.redrive(a.id);
        const c2 = await claimOne("w", { types: ["a"] });
        await engine.complete(a.id, { token: c2.token });
        expect((await job(b.id)).state).toBe("queued");
      });

      it("an unknown dependency is DEPENDENCY_NOT_FOUND", async () => {
        const error = await rejectsWith(
          engine.enqueue({ type: "t", dependsOn: ["01AAAAAAAAAAAAAAAAAAAAAAAA"] }),
          "DEPENDENCY_NOT_FOUND",
        );
        expect(error.details).toMatchObject({ missing: ["01AAAAAAAAAAAAAAAAAAAAAAAA"] });
        expect(await engine.count({})).toBe(0);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("claim", () => {
      /** Jobs whose claim order is c, b, a, d, e (f is not due). */
      async function orderFixture(types: [string, string] = ["t", "t"]) {
        const now = clock.now();
        const a = await add({ type: types[0], priority: 0, runAt: now - 3000 });
        const b = await add({ type: types[1], priority: 5, runAt: now - 1000 });
        const c = await add({ type: types[0], priority: 5, runAt: now - 2000 });
        const d = await add({ type: types[1], priority: 0, runAt: now - 3000 });
        const e = await add({ type: types[0], priority: -1, runAt: now - 5000 });
        const f = await add({ type: types[1], priority: 9, runAt: now + 1000 });
        return { expected: [c.id, b.id, a.id, d.id, e.id], future: f.id };
      }

      it("claims in priority (desc), run_at, id order", async () => {
        const { expected } = await orderFixture();
        expect(await ids(engine.claim({ owner: "w", limit: 10 }))).toEqual(expected);
      });

      it("claims in the same order one at a time and across several types", async () => {
        const { expected } = await orderFixture(["x", "y"]);
        const got: string[] = [];
        for (let i = 0; i < 6; i++) got.push(...(await ids(engine.claim({ owner: "w", types: ["x", "y"] }))));
        expect(got).toEqual(expected);
      });

      it("a claim naming no type merges every type into one claim order, skipping excluded and paused types", async () => {
        const { expected } = await orderFixture(["x", "y"]);
        const now = clock.now();
        const excluded = await add({ type: "a-excluded", priority: 9, runAt: now - 9000 });
        const paused = await add({ type: "z-paused", priority: 9, runAt: now - 8000 });
        const late = await add({ type: "m", priority: -1, runAt: now - 1000 });
        await engine.pause("type", "z-paused");
        const got: string[] = [];
        for (let i = 0; i < 3; i++) {
          got.push(...(await ids(engine.claim({ owner: "w", excludeTypes: ["a-excluded"], limit: 2 }))));
        }
        expect(got).toEqual([...expected, late.id]);
        expect(await engine.claim({ owner: "w", excludeTypes: ["a-excluded"], limit: 10 })).toEqual([]);
        await engine.unpause("type", "z-paused");
        expect(await ids(engine.claim({ owner: "w", limit: 10 }))).toEqual([excluded.id, paused.id]);
      });

      it("returns the claimed job running with a fresh token, lease and attempt", async () => {
        const queued = await add({ maxAttempts: 5 });
        const now = clock.now();
        const [claimed] = await engine.claim({ owner: "worker-1", leaseMs: 7000 });
        expect(claimed).toMatchObject({ attempt: 1, leaseExpiresAt: now + 7000 });
        expect(claimed!.token.length).toBeGreaterThanOrEqual(16);
        expect(claimed!.job).toMatchObject({
          id: queued.id,
          state: "running",
          attempts: 1,
          leaseOwner: "worker-1",
          leaseExpiresAt: now + 7000,
          startedAt: now,
        });
        expect(claimed!.job).not.toHaveProperty("leaseToken");
        expect(await job(queued.id)).toMatchObject({ state: "running", leaseOwner: "worker-1", attempts: 1 });
        expect((await eventsOf(queued.id)).at(-1)).toMatchObject({
          kind: "claimed",
          fromState: "queued",
          toState: "running",
          actor: "worker-1",
          details: { attempt: 1 },
        });
        expect(await store.attempts(queued.id)).toEqual([
          {
            jobId: queued.id,
            n: 1,
            owner: "worker-1",
            startedAt: now,
            endedAt: null,
            outcome: null,
            exitCode: null,
            error: null,
          },
        ]);
        expect(await engine.claim({ owner: "worker-2" })).toEqual([]);
      });

      it("respects limit and never hands one job to two claimers", async () => {
        await engine.enqueue(Array.from({ length: 7 }, () => ({ type: "t" })));
        const first = await ids(engine.claim({ owner: "a", limit: 3 }));
        const second = await ids(engine.claim({ owner: "b", limit: 3 }));
        const third = await ids(engine.claim({ owner: "c", limit: 3 }));
        expect([first.length, second.length, third.length]).toEqual([3, 3, 1]);
        expect(new Set([...first, ...second, ...third]).size).toBe(7);
      });

      it("respects run_at: a delayed job is claimable only once the clock reaches it", async () => {
        const delayed = await add({ delayMs: 60 * SECOND });
        expect(delayed.runAt).toBe(clock.now() + 60 * SECOND);
        expect(await engine.claim({ owner: "w" })).toEqual([]);
        clock.advance(60 * SECOND - 1);
        expect(await engine.claim({ owner: "w" })).toEqual([]);
        clock.advance(1);
        expect(await ids(engine.claim({ owner: "w" }))).toEqual([delayed.id]);
      });

      it("claims only the given types, and never the excluded ones", async () => {
        const a = await add({ type: "a" });
        const b = await add({ type: "b" });
        const c = await add({ type: "c" });
        expect(await ids(engine.claim({ owner: "w", types: ["b"], limit: 10 }))).toEqual([b.id]);
        expect(
          await ids(engine.claim({ owner: "w", types: ["a", "c"], excludeTypes: ["a"], limit: 10 })),
        ).toEqual([c.id]);
        expect(await engine.claim({ owner: "w", excludeTypes: ["a"], limit: 10 })).toEqual([]);
        expect(await ids(engine.claim({ owner: "w", types: ["zzz", "a"], limit: 10 }))).toEqual([a.id]);
      });

      it("claims by workflow and project, and skips excluded projects", async () => {
        const w1 = await add({ workflow: "w1", project: "/p1" });
        const w2 = await add({ workflow: "w2", project: "/p2" });
        const w3 = await add({ workflow: "w3", project: "/p3" });
        const none = await add();
        expect(await ids(engine.claim({ owner: "w", workflow: "w2", limit: 10 }))).toEqual([w2.id]);
        expect(await ids(engine.claim({ owner: "w", project: "/p1", limit: 10 }))).toEqual([w1.id]);
        expect(await ids(engine.claim({ owner: "w", excludeProjects: ["/p3"], limit: 10 }))).toEqual([
          none.id,
        ]);
        expect(await ids(engine.claim({ owner: "w", limit: 10 }))).toEqual([w3.id]);
      });

      it("holds back a job whose resource_key is held by a running job", async () => {
        const r1 = await add({ resourceKey: "db" });
        const r2 = await add({ resourceKey: "db" });
        const free = await add();
        const other = await add({ resourceKey: "cache" });
        // One claim never takes two jobs of one resource.
        const claimed = await engine.claim({ owner: "w", limit: 10 });
        expect(claimed.map((c) => c.job.id)).toEqual([r1.id, free.id, other.id]);
        expect(await engine.claim({ owner: "w", limit: 10 })).toEqual([]);
        const explained = await engine.explain(r2.id);
        expect(explained.facts.resourceHolder).toEqual({ id: r1.id, state: "running" });
        expect(explained.reasons.join("\n")).toContain(`resource 'db' is held by running job ${r1.id}`);

        await engine.complete(r1.id, { token: claimed[0]!.token });
        expect(await ids(engine.claim({ owner: "w", limit: 10 }))).toEqual([r2.id]);
      });

      it("a released resource (fail with retry) frees the key for the next job", async () => {
        const r1 = await add({ resourceKey: "db", backoff: { ...EXACT_BACKOFF, baseMs: 10 * SECOND } });
        const r2 = await add({ resourceKey: "db" });
        const c1 = await claimOne();
        await engine.fail(r1.id, { token: c1.token, error: "flaky" });
        expect(await ids(engine.claim({ owner: "w", limit: 10 }))).toEqual([r2.id]);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("pause", () => {
      it("pausing everything stops claims; unpausing resumes them", async () => {
        const a = await add();
        expect(await engine.pause("all", "*")).toBe(true);
        expect(await engine.pause("all", "*")).toBe(false);
        expect(await engine.pauses()).toMatchObject([{ scope: "all", target: "*" }]);
        expect(await engine.claim({ owner: "w" })).toEqual([]);
        expect(await engine.claim({ owner: "w", types: ["t"] })).toEqual([]);
        expect((await engine.explain(a.id)).reasons).toContain("everything is paused");
        expect(await engine.unpause("all", "*")).toBe(true);
        expect(await engine.unpause("all", "*")).toBe(false);
        expect(await engine.pauses()).toEqual([]);
        expect(await ids(engine.claim({ owner: "w" }))).toEqual([a.id]);
        const kinds = (await store.events({ limit: 100 })).filter((e) => e.jobId === null);
        expect(kinds.map((e) => [e.kind, e.details])).toEqual([
          ["paused", { scope: "all", target: "*" }],
          ["unpaused", { scope: "all", target: "*" }],
        ]);
      });

      it("pausing a type holds back only that type", async () => {
        const a = await add({ type: "a" });
        const b = await add({ type: "b" });
        await engine.pause("type", "a");
        expect(await ids(engine.claim({ owner: "w", limit: 10 }))).toEqual([b.id]);
        expect(await engine.claim({ owner: "w", types: ["a"], limit: 10 })).toEqual([]);
        expect((await engine.explain(a.id)).reasons).toContain("type 'a' is paused");
        await engine.unpause("type", "a");
        expect(await ids(engine.claim({ owner: "w", types: ["a"] }))).toEqual([a.id]);
      });

      it("pausing a workflow holds back only its jobs", async () => {
        const w1 = await add({ workflow: "w1" });
        const w2 = await add({ workflow: "w2" });
        const none = await add();
        await engine.pause("workflow", "w1");
        expect(await ids(engine.claim({ owner: "w", limit: 10 }))).toEqual([w2.id, none.id]);
        expect(await engine.claim({ owner: "w", types: ["t"], limit: 10 })).toEqual([]);
        const explained = await engine.explain(w1.id);
        expect(explained.reasons).toContain("workflow 'w1' is paused");
        expect(explained.facts.pauses).toMatchObject([{ scope: "workflow", target: "w1" }]);
        await engine.unpause("workflow", "w1");
        expect(await ids(engine.claim({ owner: "w" }))).toEqual([w1.id]);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("leases and fencing", () => {
      it("heartbeat extends the lease so the job is not recovered", async () => {
        const j = await add();
        const c = await claimOne("w1", { leaseMs: 10 * SECOND });
        clock.advance(8 * SECOND);
        const beat = await engine.heartbeat(j.id, c.token, 10 * SECOND);
        expect(beat.leaseExpiresAt).toBe(clock.now() + 10 * SECOND);
        expect((await job(j.id)).leaseExpiresAt).toBe(beat.leaseExpiresAt);
        clock.advance(8 * SECOND); // past the original lease, within the extended one
        expect(await engine.claim({ owner: "w2" })).toEqual([]);
        expect(await engine.recover()).toEqual([]);
        expect(await job(j.id)).toMatchObject({ state: "running", leaseOwner: "w1", attempts: 1 });
        await engine.complete(j.id, { token: c.token });
        expect((await job(j.id)).state).toBe("succeeded");
      });

      it("heartbeat with a wrong token, on a finished job or on an unknown job is refused", async () => {
        const j = await add();
        const c = await claimOne();
        await rejectsWith(engine.heartbeat(j.id, "not-the-token"), "LEASE_LOST");
        await engine.complete(j.id, { token: c.token });
        await rejectsWith(engine.heartbeat(j.id, c.token), "LEASE_LOST");
        await rejectsWith(engine.heartbeat("01ZZZZZZZZZZZZZZZZZZZZZZZZ", c.token), "JOB_NOT_FOUND");
      });

      it("R-09 stale worker gets LEASE_LOST on heartbeat/complete/fail and changes nothing (100 runs)", async () => {
        for (let run = 0; run < 100; run++) {
          const j = await add({ type: "fence", backoff: { ...EXACT_BACKOFF, baseMs: 0 } });
          const stale = await claimOne("worker-a", { types: ["fence"], leaseMs: 1000 });
          clock.advance(1001); // worker-a stalls past its lease
          const fresh = await claimOne("worker-b", { types: ["fence"], leaseMs: 30 * SECOND });
          expect(fresh.job.id).toBe(j.id);
          expect(fresh.token).not.toBe(stale.token);
          expect(fresh.attempt).toBe(2);

          const before = await snapshot(j.id);
          await rejectsWith(engine.heartbeat(j.id, stale.token), "LEASE_LOST");
          await rejectsWith(engine.complete(j.id, { token: stale.token, result: "stale" }), "LEASE_LOST");
          await rejectsWith(engine.fail(j.id, { token: stale.token, error: "stale" }), "LEASE_LOST");
          await rejectsWith(engine.timeout(j.id, { token: stale.token }), "LEASE_LOST");
          await rejectsWith(engine.release(j.id, stale.token), "LEASE_LOST");
          await rejectsWith(engine.cancel(j.id, { token: stale.token }), "LEASE_LOST");
          // Running without a token is not enough either.
          await rejectsWith(engine.complete(j.id, {}), "LEASE_LOST");
          expect(await snapshot(j.id)).toEqual(before);

          await engine.complete(j.id, { token: fresh.token, result: "fresh" });
          // After it finished, the stale token still changes nothing.
          await rejectsWith(engine.complete(j.id, { token: stale.token }), "LEASE_LOST");
          const done = await job(j.id);
          expect(done).toMatchObject({ state: "succeeded", result: "fresh", attempts: 2 });
          const kinds = (await eventsOf(j.id)).map((e) => e.kind);
          expect(kinds.filter((k) => k === "completed")).toHaveLength(1);
          expect((await store.attempts(j.id)).map((a) => [a.owner, a.outcome])).toEqual([
            ["worker-a", "crashed"],
            ["worker-b", "succeeded"],
          ]);
        }
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("finishing", () => {
      it("complete stores result and evidence and ends the attempt", async () => {
        const j = await add();
        const c = await claimOne("w1");
        clock.advance(5 * SECOND);
        const done = await engine.complete(j.id, {
          token: c.token,
          result: { files: ["a.ts"], count: 2 },
          evidence: "tests pass: 12/12",
          exitCode: 0,
        });
        expect(done).toMatchObject({
          state: "succeeded",
          result: { files: ["a.ts"], count: 2 },
          evidence: "tests pass: 12/12",
          error: null,
          leaseOwner: null,
          leaseExpiresAt: null,
          finishedAt: clock.now(),
          updatedAt: clock.now(),
        });
        expect(await job(j.id)).toEqual(done);
        expect(await store.attempts(j.id)).toMatchObject([
          { n: 1, owner: "w1", endedAt: clock.now(), outcome: "succeeded", exitCode: 0, error: null },
        ]);
        expect((await eventsOf(j.id)).at(-1)).toMatchObject({
          kind: "completed",
          fromState: "running",
          toState: "succeeded",
          details: { attempt: 1, exitCode: 0, evidence: "tests pass: 12/12" },
        });
      });

      it("an agent completes or fails a queued job directly, without a token", async () => {
        const a = await add();
        const b = await add();
        expect(await engine.complete(a.id, { evidence: { diff: "+1 -0" } })).toMatchObject({
          state: "succeeded",
          evidence: { diff: "+1 -0" },
          attempts: 0,
        });
        expect(await engine.fail(b.id, { error: "not needed" })).toMatchObject({
          state: "failed",
          error: "not needed",
        });
        expect(await trail(a.id)).toEqual(["enqueued:->queued", "completed:queued>succeeded"]);
        expect(await trail(b.id)).toEqual(["enqueued:->queued", "failed:queued>failed"]);
        // A token for a job that is not running is stale by definition.
        const c = await add();
        await rejectsWith(engine.complete(c.id, { token: "whatever" }), "LEASE_LOST");
        expect((await job(c.id)).state).toBe("queued");
        await rejectsWith(engine.complete(a.id), "INVALID_TRANSITION");
        await rejectsWith(engine.complete("01ZZZZZZZZZZZZZZZZZZZZZZZZ"), "JOB_NOT_FOUND");
      });

      it("fail with attempts left schedules a retry with backoff; the retry is claimable after it", async () => {
        const j = await add({ maxAttempts: 3, backoff: EXACT_BACKOFF });
        const c1 = await claimOne();
        const failed = await engine.fail(j.id, { token: c1.token, error: "boom 1", exitCode: 2 });
        expect(failed).toMatchObject({
          state: "retrying",
          runAt: clock.now() + 1000,
          error: "boom 1",
          attempts: 1,
          finishedAt: null,
        });
        expect(await store.nextRunAt()).toBe(clock.now() + 1000);
        expect((await engine.explain(j.id)).reasons.join("\n")).toContain("retry scheduled for");
        expect((await eventsOf(j.id)).at(-1)).toMatchObject({
          kind: "retry_scheduled",
          fromState: "running",
          toState: "retrying",
          details: { attempt: 1, error: "boom 1", exitCode: 2, retryAt: clock.now() + 1000 },
        });
        expect(await engine.claim({ owner: "w" })).toEqual([]);
        clock.advance(999);
        expect(await engine.claim({ owner: "w" })).toEqual([]);
        clock.advance(1);
        const c2 = await claimOne();
        expect(c2.attempt).toBe(2);
        expect(c2.job.state).toBe("running");
        expect((await eventsOf(j.id)).at(-1)).toMatchObject({ kind: "claimed", fromState: "retrying" });

        // The second failure waits twice as long.
        expect(await engine.fail(j.id, { token: c2.token, error: "boom 2" })).toMatchObject({
          state: "retrying",
          runAt: clock.now() + 2000,
        });
        clock.advance(2000);
        const c3 = await claimOne();
        expect(c3.attempt).toBe(3);
        const dead = await engine.fail(j.id, { token: c3.token, error: "boom 3" });
        expect(dead).toMatchObject({
          state: "failed",
          attempts: 3,
          error: "boom 3",
          finishedAt: clock.now(),
        });
        expect((await eventsOf(j.id)).at(-1)).toMatchObject({
          kind: "dead_lettered",
          fromState: "running",
          toState: "failed",
        });
        expect((await store.attempts(j.id)).map((a) => a.outcome)).toEqual(["failed", "failed", "failed"]);
        clock.advance(DAY);
        expect(await engine.claim({ owner: "w", limit: 10 })).toEqual([]);
        expect(await store.nextRunAt()).toBeNull();
      });

      it("fail without attempts left dead-letters the job", async () => {
        const j = await add({ maxAttempts: 1 });
        const c = await claimOne();
        expect(await engine.fail(j.id, { token: c.token, error: "fatal" })).toMatchObject({
          state: "failed",
          error: "fatal",
        });
        expectNotStranded(await job(j.id));
      });

      it("noRetry fails the job even with attempts left", async () => {
        const j = await add({ maxAttempts: 5 });
        const c = await claimOne();
        expect(await engine.fail(j.id, { token: c.token, error: "bad input", noRetry: true })).toMatchObject({
          state: "failed",
          attempts: 1,
          maxAttempts: 5,
        });
      });

      it("timeout retries while attempts are left, then ends timed_out", async () => {
        const j = await add({ maxAttempts: 2, backoff: EXACT_BACKOFF });
        const c1 = await claimOne();
        expect(await engine.timeout(j.id, { token: c1.token, error: "took > 2s" })).toMatchObject({
          state: "retrying",
          runAt: clock.now() + 1000,
        });
        expect((await eventsOf(j.id)).at(-1)).toMatchObject({
          kind: "timed_out_retry_scheduled",
          fromState: "running",
          toState: "retrying",
        });
        clock.advance(1000);
        const c2 = await claimOne();
        expect(await engine.timeout(j.id, { token: c2.token })).toMatchObject({
          state: "timed_out",
          finishedAt: clock.now(),
        });
        expect((await eventsOf(j.id)).at(-1)).toMatchObject({
          kind: "timed_out",
          fromState: "running",
          toState: "timed_out",
        });
        expect((await store.attempts(j.id)).map((a) => a.outcome)).toEqual(["timed_out", "timed_out"]);
        // A timeout is only for running jobs.
        const q = await add();
        await rejectsWith(engine.timeout(q.id), "INVALID_TRANSITION");
      });

      it("release gives the job back without spending the attempt", async () => {
        const j = await add({ maxAttempts: 1 });
        const c1 = await claimOne("w1");
        const released = await engine.release(j.id, c1.token);
        expect(released).toMatchObject({
          state: "queued",
          attempts: 0,
          leaseOwner: null,
          leaseExpiresAt: null,
        });
        expect((await eventsOf(j.id)).at(-1)).toMatchObject({
          kind: "released",
          fromState: "running",
          toState: "queued",
        });
        const c2 = await claimOne("w2");
        // The attempt number names the row (unique for the job's life); the budget counter is separate.
        expect(c2.attempt).toBe(2);
        expect(c2.job.attempts).toBe(1);
        await rejectsWith(engine.complete(j.id, { token: c1.token }), "LEASE_LOST");
        // The budget of one attempt is intact: a failure now dead-letters.
        expect(await engine.fail(j.id, { token: c2.token, error: "x" })).toMatchObject({ state: "failed" });
        const attempts = await store.attempts(j.id);
        expect(attempts.map((a) => [a.owner, a.outcome])).toEqual([
          ["w1", "released"],
          ["w2", "failed"],
        ]);
        expect(new Set(attempts.map((a) => a.n)).size).toBe(2);
      });

      it("events name each attempt by its own number after a release (claim, fail and complete agree)", async () => {
        const j = await add({ maxAttempts: 3, backoff: { ...EXACT_BACKOFF, baseMs: 0 } });
        const c1 = await claimOne("w1");
        await engine.release(j.id, c1.token);
        const c2 = await claimOne("w2");
        await engine.fail(j.id, { token: c2.token, error: "boom" });
        const c3 = await claimOne("w3");
        await engine.complete(j.id, { token: c3.token, evidence: JSON.stringify("ok") });
        expect([c1.attempt, c2.attempt, c3.attempt]).toEqual([1, 2, 3]);
        const events = (await eventsOf(j.id)).filter((e) => e.kind !== "enqueued");
        expect(events.map((e) => [e.kind, e.details?.attempt])).toEqual([
          ["claimed", 1],
          ["released", 1],
          ["claimed", 2],
          ["retry_scheduled", 2],
          ["claimed", 3],
          ["completed", 3],
        ]);
        // Many at once (the one-statement path of PostgreSQL) says the same.
        const k = await add({ maxAttempts: 3 });
        const d1 = await claimOne("w1");
        await engine.release(k.id, d1.token);
        const d2 = await claimOne("w2");
        const other = await add();
        const d3 = await claimOne("w3");
        await engine.batch([
          { kind: "finish", jobId: k.id, outcome: "succeeded", options: { token: d2.token } },
          { kind: "finish", jobId: other.id, outcome: "succeeded", options: { token: d3.token } },
        ]);
        expect((await eventsOf(k.id)).at(-1)).toMatchObject({ kind: "completed", details: { attempt: 2 } });
      });

      it("cancel ends a queued or running job; a finished job cannot be cancelled", async () => {
        const q = await add();
        const r = await add();
        expect(await engine.cancel(q.id)).toMatchObject({ state: "cancelled", finishedAt: clock.now() });
        const c = await claimOne();
        expect(c.job.id).toBe(r.id);
        await rejectsWith(engine.cancel(r.id, { token: "wrong" }), "LEASE_LOST");
        expect(await engine.cancel(r.id)).toMatchObject({ state: "cancelled", leaseOwner: null });
        expect(await store.attempts(r.id)).toMatchObject([{ outcome: "cancelled" }]);
        await rejectsWith(engine.complete(r.id, { token: c.token }), "LEASE_LOST");
        await rejectsWith(engine.cancel(q.id), "INVALID_TRANSITION");
        expect(await trail(r.id)).toEqual([
          "enqueued:->queued",
          "claimed:queued>running",
          "cancelled:running>cancelled",
        ]);
      });

      it("skip marks a job not needed; a succeeded job cannot be skipped", async () => {
        const q = await add();
        const f = await add();
        const done = await add();
        expect(await engine.skip(q.id)).toMatchObject({ state: "skipped", finishedAt: clock.now() });
        await engine.fail(f.id, { error: "x" });
        expect(await engine.skip(f.id)).toMatchObject({ state: "skipped" });
        await engine.complete(done.id);
        await rejectsWith(engine.skip(done.id), "INVALID_TRANSITION");
        await rejectsWith(engine.skip(q.id), "INVALID_TRANSITION");
      });

      it("redrive queues a failed job again with its attempts reset", async () => {
        const j = await add({ maxAttempts: 2, backoff: EXACT_BACKOFF });
        const c1 = await claimOne();
        await engine.fail(j.id, { token: c1.token, error: "one" });
        clock.advance(1000);
        const c2 = await claimOne();
        await engine.fail(j.id, { token: c2.token, error: "two" });
        expect((await job(j.id)).state).toBe("failed");
        clock.advance(10 * SECOND);

        const redriven = await engine.redrive(j.id);
        expect(redriven).toMatchObject({
          state: "queued",
          attempts: 0,
          maxAttempts: 2,
          error: null,
          finishedAt: null,
          runAt: clock.now(),
        });
        expect((await eventsOf(j.id)).at(-1)).toMatchObject({
          kind: "redriven",
          fromState: "failed",
          toState: "queued",
        });
        const c3 = await claimOne();
        expect(c3.attempt).toBe(3);
        expect(c3.job.attempts).toBe(1);
        await engine.complete(j.id, { token: c3.token });
        const attempts = await store.attempts(j.id);
        expect(attempts.map((a) => a.outcome)).toEqual(["failed", "failed", "succeeded"]);
        expect(new Set(attempts.map((a) => a.n)).size).toBe(3);

        await rejectsWith(engine.redrive(j.id), "INVALID_TRANSITION");
        const q = await add();
        await rejectsWith(engine.redrive(q.id), "INVALID_TRANSITION");
        await engine.cancel(q.id);
        expect(await engine.redrive(q.id)).toMatchObject({ state: "queued" });
      });

      it("accept_before completes every earlier live job of the workflow", async () => {
        const w1 = await add({ workflow: "w", project: "/p" });
        const w2 = await add({ workflow: "w", project: "/p" });
        const w3 = await add({ workflow: "w", project: "/p" });
        const w4 = await add({ workflow: "w", project: "/p" });
        const otherWorkflow = await add({ workflow: "v", project: "/p" });
        const c1 = await claimOne("w1");
        expect(c1.job.id).toBe(w1.id);
        await engine.fail(w2.id, { error: "x" });

        const accepted = await engine.acceptBefore(w3.id);
        expect(accepted.map((j) => j.id)).toEqual([w1.id]);
        expect(await job(w1.id)).toMatchObject({
          state: "succeeded",
          result: { accepted: true, before: w3.id },
        });
        expect((await eventsOf(w1.id)).at(-1)).toMatchObject({
          kind: "accepted",
          fromState: "running",
          toState: "succeeded",
        });
        expect((await job(w2.id)).state).toBe("failed");
        expect((await job(w3.id)).state).toBe("queued");
        expect((await job(w4.id)).state).toBe("queued");
        expect((await job(otherWorkflow.id)).state).toBe("queued");
        await rejectsWith(engine.complete(w1.id, { token: c1.token }), "LEASE_LOST");

        const loose = await add();
        await rejectsWith(engine.acceptBefore(loose.id), "INVALID_INPUT");
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("lease expiry and recovery", () => {
      it("an expired lease is recovered by the next claim as a crashed attempt and retried", async () => {
        const j = await add({ type: "crashy", maxAttempts: 2, backoff: EXACT_BACKOFF });
        const c1 = await claimOne("w1", { types: ["crashy"], leaseMs: 5 * SECOND });
        clock.advance(5 * SECOND); // exactly at expiry: still held
        expect(await engine.claim({ owner: "w2", types: ["other"] })).toEqual([]);
        expect((await job(j.id)).state).toBe("running");
        clock.advance(1);
        expect(await engine.claim({ owner: "w2", types: ["other"] })).toEqual([]);
        const recovered = await job(j.id);
        expect(recovered).toMatchObject({ state: "retrying", runAt: clock.now() + 1000, leaseOwner: null });
        expect(recovered.error).toContain("lease expired");
        expectNotStranded(recovered);
        expect((await eventsOf(j.id)).at(-1)).toMatchObject({
          kind: "retry_scheduled",
          actor: "baton:recovery",
          fromState: "running",
          toState: "retrying",
        });
        expect(await store.attempts(j.id)).toMatchObject([
          { owner: "w1", outcome: "crashed", endedAt: clock.now() },
        ]);
        await rejectsWith(engine.complete(j.id, { token: c1.token }), "LEASE_LOST");

        clock.advance(1000);
        const c2 = await claimOne("w2", { types: ["crashy"], leaseMs: 5 * SECOND });
        expect(c2.attempt).toBe(2);
        clock.advance(5 * SECOND + 1);
        // The last attempt crashed: dead-lettered, never stranded.
        expect(await engine.claim({ owner: "w3", limit: 10 })).toEqual([]);
        const dead = await job(j.id);
        expect(dead).toMatchObject({ state: "failed", attempts: 2 });
        expectNotStranded(dead);
        expect((await eventsOf(j.id)).at(-1)).toMatchObject({ kind: "dead_lettered", toState: "failed" });
        expect((await store.attempts(j.id)).map((a) => a.outcome)).toEqual(["crashed", "crashed"]);
      });

      it("recover() takes back expired leases without claiming", async () => {
        const a = await add({ maxAttempts: 1 });
        const b = await add({ maxAttempts: 3 });
        await engine.claim({ owner: "w", limit: 2, leaseMs: 1000 });
        clock.advance(1001);
        const recovered = await engine.recover();
        expect(recovered.map((j) => [j.id, j.state]).sort()).toEqual(
          [
            [a.id, "failed"],
            [b.id, "retrying"],
          ].sort(),
        );
        for (const j of recovered) expectNotStranded(await job(j.id));
        expect(await engine.recover()).toEqual([]);
      });

      it("a recovered job whose retry is due is claimed in the same call", async () => {
        const j = await add({ backoff: { ...EXACT_BACKOFF, baseMs: 0 } });
        await claimOne("w1", { leaseMs: 1000 });
        clock.advance(1001);
        const c = await claimOne("w2");
        expect(c.job.id).toBe(j.id);
        expect(c.attempt).toBe(2);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("archive and delete", () => {
      it("archive cancels a live job first and hides it from lists unless asked", async () => {
        const live = await add({ workflow: "w" });
        const queued = await add({ workflow: "w" });
        const done = await add({ workflow: "w" });
        await engine.complete(done.id);
        expect((await claimOne()).job.id).toBe(live.id);

        expect(await engine.archive([live.id, done.id])).toBe(2);
        expect(await job(live.id)).toMatchObject({ state: "cancelled", archivedAt: clock.now() });
        expect(await job(done.id)).toMatchObject({ state: "succeeded", archivedAt: clock.now() });
        expect(await store.attempts(live.id)).toMatchObject([{ outcome: "cancelled" }]);
        expect(await trail(live.id)).toEqual([
          "enqueued:->queued",
          "claimed:queued>running",
          "cancelled:running>cancelled",
          "archived:cancelled>cancelled",
        ]);
        expect((await engine.list({}, { limit: 10 })).map((j) => j.id)).toEqual([queued.id]);
        expect(await engine.count({})).toBe(1);
        expect((await engine.list({ includeArchived: true }, { limit: 10 })).map((j) => j.id).sort()).toEqual(
          [live.id, queued.id, done.id].sort(),
        );
        expect(await engine.archive([live.id])).toBe(0);
        expect(await engine.archiveWorkflow("w", undefined)).toBe(1);
        expect(await engine.count({})).toBe(0);
      });

      it("unarchive brings archived jobs back in their state, records it, and leaves others alone", async () => {
        const done = await add();
        await engine.complete(done.id);
        const live = await add();
        const kept = await add();
        expect(await engine.archive([done.id, live.id, kept.id])).toBe(3);
        clock.advance(5);
        expect(await engine.unarchive([done.id, live.id])).toBe(2);
        expect(await job(done.id)).toMatchObject({ state: "succeeded", archivedAt: null });
        expect(await job(live.id)).toMatchObject({ state: "cancelled", archivedAt: null });
        expect((await trail(done.id)).slice(-2)).toEqual([
          "archived:succeeded>succeeded",
          "unarchived:succeeded>succeeded",
        ]);
        expect((await engine.list({}, { limit: 10 })).map((j) => j.id).sort()).toEqual(
          [done.id, live.id].sort(),
        );
        // Not archived (any more): nothing to do, nothing recorded.
        expect(await engine.unarchive([done.id])).toBe(0);
        expect(await trail(done.id)).toHaveLength(4);
        // An unknown id changes nothing, in one transaction.
        await rejectsWith(engine.unarchive([kept.id, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"]), "JOB_NOT_FOUND");
        expect(await job(kept.id)).toMatchObject({ archivedAt: expect.any(Number) });
      });

      it("archive and delete of an unknown id change nothing", async () => {
        const j = await add();
        await rejectsWith(engine.archive([j.id, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"]), "JOB_NOT_FOUND");
        expect(await job(j.id)).toMatchObject({ state: "queued", archivedAt: null });
        await rejectsWith(engine.delete([j.id, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"]), "JOB_NOT_FOUND");
        expect(await store.getJob(j.id)).toBeDefined();
        expect(await trail(j.id)).toEqual(["enqueued:->queued"]);
      });

      it("delete refuses a running job and removes others with their attempts", async () => {
        const running = await add();
        const done = await add();
        const c = await claimOne();
        expect(c.job.id).toBe(running.id);
        await rejectsWith(engine.delete([running.id]), "INVALID_TRANSITION");
        expect((await job(running.id)).state).toBe("running");
        await engine.release(running.id, c.token);

        expect(await engine.delete([running.id, done.id])).toBe(2);
        expect(await store.getJob(running.id)).toBeUndefined();
        expect(await store.getJob(done.id)).toBeUndefined();
        expect(await store.attempts(running.id)).toEqual([]);
        // The deletion itself is on the audit trail.
        expect((await eventsOf(running.id)).at(-1)).toMatchObject({ kind: "deleted", fromState: "queued" });
        expect(await engine.count({ includeArchived: true })).toBe(0);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("events and attempts", () => {
      it("every change appends an event with its from and to states", async () => {
        const j = await add({ maxAttempts: 2, backoff: EXACT_BACKOFF, workflow: "w", project: "/p" });
        const c1 = await claimOne("w1");
        await engine.fail(j.id, { token: c1.token, error: "e1" });
        clock.advance(1000);
        const c2 = await claimOne("w2");
        await engine.heartbeat(j.id, c2.token); // not a state change: no event
        await engine.complete(j.id, { token: c2.token, evidence: "ok" });
        await engine.note(j.id, "looked fine");
        const events = await eventsOf(j.id);
        expect(events.map((e) => `${e.kind}:${e.fromState ?? "-"}>${e.toState ?? "-"}`)).toEqual([
          "enqueued:->queued",
          "claimed:queued>running",
          "retry_scheduled:running>retrying",
          "claimed:retrying>running",
          "completed:running>succeeded",
          "note:->-",
        ]);
        expect(events.at(-1)!.details).toEqual({ text: "looked fine" });
        for (const e of events) expect(e).toMatchObject({ jobId: j.id, workflow: "w", project: "/p" });
        const eventIds = events.map((e) => e.id);
        expect([...eventIds].sort((a, b) => a - b)).toEqual(eventIds);
        // Filters and cursors over the event log.
        const afterSecond = await store.events({ jobId: j.id, afterId: eventIds[1]!, limit: 100 });
        expect(afterSecond.map((e) => e.id)).toEqual(eventIds.slice(2));
        const newest = await store.events({ workflow: "w", limit: 2, order: "desc" });
        expect(newest.map((e) => e.id)).toEqual([eventIds[5], eventIds[4]]);
        expect(await store.events({ workflow: "nope", limit: 10 })).toEqual([]);
        const inWindow = await store.events({ jobId: j.id, since: clock.now(), limit: 100 });
        expect(inWindow.map((e) => e.kind)).toEqual(["claimed", "completed", "note"]);
      });

      it("events filter by a list of jobs and a list of kinds, in one read", async () => {
        const a = await add();
        const b = await add();
        const c = await add();
        await engine.note(a.id, "a");
        await engine.note(b.id, "b");
        await engine.note(c.id, "c");
        const ofAB = await store.events({ jobIds: [a.id, b.id], limit: 100 });
        expect(ofAB.map((e) => `${e.jobId === a.id ? "a" : "b"}:${e.kind}`)).toEqual([
          "a:enqueued",
          "b:enqueued",
          "a:note",
          "b:note",
        ]);
        const notes = await store.events({ kinds: ["note"], order: "desc", limit: 100 });
        expect(notes.map((e) => e.details)).toEqual([{ text: "c" }, { text: "b" }, { text: "a" }]);
        const both = await store.events({ jobIds: [a.id, c.id], kinds: ["note", "nothing"], limit: 100 });
        expect(both.map((e) => e.details)).toEqual([{ text: "a" }, { text: "c" }]);
        expect(await store.events({ jobIds: [], limit: 100 })).toEqual([]);
        expect(await store.events({ kinds: [], limit: 100 })).toEqual([]);
      });

      it("latestAttempts reads the newest attempt of each of many jobs at once", async () => {
        const twice = await add({ maxAttempts: 2, backoff: { ...EXACT_BACKOFF, baseMs: 0 } });
        const c1 = await claimOne("w1", { types: ["t"] });
        await engine.fail(twice.id, { token: c1.token, error: "exit 1", exitCode: 1 });
        const c2 = await claimOne("w2", { types: ["t"] });
        await engine.fail(twice.id, { token: c2.token, error: "exit 2", exitCode: 2 });
        const once = await add();
        const c3 = await claimOne("w3", { types: ["t"] });
        await engine.complete(once.id, { token: c3.token, exitCode: 0 });
        const never = await add({ delayMs: 60 * SECOND });
        const latest = await store.latestAttempts([twice.id, once.id, never.id, "job_missing"]);
        const byJob = new Map(latest.map((a) => [a.jobId, a]));
        expect([...byJob.keys()].sort()).toEqual([twice.id, once.id].sort());
        expect(byJob.get(twice.id)).toMatchObject({ n: 2, owner: "w2", exitCode: 2 });
        expect(byJob.get(once.id)).toMatchObject({ n: 1, owner: "w3", exitCode: 0 });
        expect(await store.latestAttempts([])).toEqual([]);
      });

      it("attempts are recorded with owner, times, outcome, exit code and error", async () => {
        const j = await add({ maxAttempts: 5, backoff: { ...EXACT_BACKOFF, baseMs: 0 } });
        const t0 = clock.now();
        const c1 = await claimOne("w1", { leaseMs: 60 * SECOND });
        clock.advance(SECOND);
        await engine.fail(j.id, { token: c1.token, error: "exit 1", exitCode: 1 });
        const c2 = await claimOne("w2", { leaseMs: 60 * SECOND });
        clock.advance(SECOND);
        await engine.timeout(j.id, { token: c2.token, error: "too slow" });
        await claimOne("w3", { leaseMs: SECOND });
        clock.advance(SECOND + 1);
        const c4 = await claimOne("w4", { leaseMs: 60 * SECOND }); // recovers w3's attempt first
        const c4time = clock.now();
        clock.advance(SECOND);
        await engine.release(j.id, c4.token);
        const c5 = await claimOne("w5");
        await engine.complete(j.id, { token: c5.token, exitCode: 0 });
        const attempts = await store.attempts(j.id);
        expect(attempts.map((a) => [a.owner, a.outcome, a.exitCode])).toEqual([
          ["w1", "failed", 1],
          ["w2", "timed_out", null],
          ["w3", "crashed", null],
          ["w4", "released", null],
          ["w5", "succeeded", 0],
        ]);
        expect(attempts[0]).toMatchObject({
          jobId: j.id,
          startedAt: t0,
          endedAt: t0 + SECOND,
          error: "exit 1",
        });
        expect(attempts[1]!.error).toBe("too slow");
        expect(attempts[2]!.error).toContain("lease expired");
        expect(attempts[3]).toMatchObject({ startedAt: c4time, endedAt: c4time + SECOND });
        for (const a of attempts) expect(a.endedAt).not.toBeNull();
        // Attempt numbers are unique and increasing.
        const ns = attempts.map((a) => a.n);
        expect([...ns].sort((x, y) => x - y)).toEqual(ns);
        expect(new Set(ns).size).toBe(ns.length);
        expect(await job(j.id)).toMatchObject({ state: "succeeded", attempts: 4 });
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("lists and counts", () => {
      async function listFixture() {
        const j1 = await add({
          type: "a",
          workflow: "w1",
          project: "/p1",
          tags: ["x"],
          payload: { note: "100% done" },
        });
        const j2 = await add({
          type: "b",
          workflow: "w2",
          project: "/p1",
          tags: ["y"],
          payload: { note: "a_b" },
        });
        const j3 = await add({
          type: "a",
          workflow: "w1",
          project: "/p2",
          tags: ["x", "y"],
          payload: { note: "it's" },
        });
        const j4 = await add({ type: "c", project: "/p2", payload: { note: '"; DROP TABLE jobs; --' } });
        const j5 = await add({ type: "a", name: "plain-name", payload: { note: "plain" } });
        await engine.complete(j5.id, { evidence: "evidence-needle" });
        return { j1, j2, j3, j4, j5 };
      }

      async function listed(filter: Parameters<Engine["list"]>[0]): Promise<string[]> {
        const found = (await engine.list(filter, { limit: 100, order: "asc" })).map((j) => j.id);
        expect(await engine.count(filter)).toBe(found.length);
        return found;
      }

      it("filters by state, type, workflow, project and tag", async () => {
        const { j1, j2, j3, j4, j5 } = await listFixture();
        expect(await listed({})).toEqual([j1.id, j2.id, j3.id, j4.id, j5.id]);
        expect(await listed({ states: ["succeeded"] })).toEqual([j5.id]);
        expect(await listed({ states: ["queued", "succeeded"] })).toEqual([
          j1.id,
          j2.id,
          j3.id,
          j4.id,
          j5.id,
        ]);
        expect(await listed({ states: ["failed"] })).toEqual([]);
        expect(await listed({ types: ["a"] })).toEqual([j1.id, j3.id, j5.id]);
        expect(await listed({ types: ["b", "c"] })).toEqual([j2.id, j4.id]);
        expect(await listed({ workflow: "w1" })).toEqual([j1.id, j3.id]);
        expect(await listed({ workflow: null })).toEqual([j4.id, j5.id]);
        expect(await listed({ workflow: null, project: "/p2" })).toEqual([j4.id]);
        expect(await listed({ project: "/p2" })).toEqual([j3.id, j4.id]);
        expect(await listed({ tag: "x" })).toEqual([j1.id, j3.id]);
        expect(await listed({ tag: "y" })).toEqual([j2.id, j3.id]);
        expect(await listed({ tag: "z" })).toEqual([]);
        expect(await listed({ types: ["a"], workflow: "w1", project: "/p1" })).toEqual([j1.id]);
        expect(await listed({ createdAfter: clock.now() + 1 })).toEqual([]);
        expect(await listed({ finishedBefore: clock.now() + 1 })).toEqual([j5.id]);
      });

      it("R-30 text search treats SQL and LIKE metacharacters as literal text", async () => {
        const { j1, j2, j3, j4, j5 } = await listFixture();
        expect(await listed({ text: "%" })).toEqual([j1.id]);
        expect(await listed({ text: "_" })).toEqual([j2.id]);
        expect(await listed({ text: "'" })).toEqual([j3.id]);
        expect(await listed({ text: '"; DROP TABLE jobs; --' })).toEqual([j4.id]);
        expect(await listed({ text: "DROP TABLE" })).toEqual([j4.id]);
        expect(await listed({ text: "plain-name" })).toEqual([j5.id]);
        expect(await listed({ text: "evidence-needle" })).toEqual([j5.id]);
        expect(await listed({ text: j3.id })).toEqual([j3.id]);
        expect(await listed({ text: "no such text" })).toEqual([]);
        expect(await engine.count({})).toBe(5);
      });

      it("R-30 filter values with SQL metacharacters match only themselves", async () => {
        const nasty = ["%", "_", "w'1", '"; DROP TABLE jobs; --', "a%b_c", "\\"];
        const made = new Map<string, string>();
        for (const value of nasty) {
          made.set(value, (await add({ type: value, workflow: value, project: value, tags: [value] })).id);
        }
        const plain = await add({ type: "plain", workflow: "wxb", project: "abc", tags: ["abc"] });
        for (const value of nasty) {
          const expected = [made.get(value)!];
          expect(await listed({ workflow: value })).toEqual(expected);
          expect(await listed({ project: value })).toEqual(expected);
          expect(await listed({ tag: value })).toEqual(expected);
          expect(await listed({ types: [value] })).toEqual(expected);
        }
        // The claim path takes type, workflow and project filters too.
        expect(await ids(engine.claim({ owner: "w", workflow: "%", limit: 10 }))).toEqual([made.get("%")]);
        expect(await ids(engine.claim({ owner: "w", types: ["_"], limit: 10 }))).toEqual([made.get("_")]);
        expect(await ids(engine.claim({ owner: "w", project: "w'1", limit: 10 }))).toEqual([made.get("w'1")]);
        await engine.pause("type", "%");
        await engine.pause("workflow", "a%b_c");
        const rest = await ids(engine.claim({ owner: "w", limit: 10 }));
        expect(rest).toContain(plain.id);
        expect(rest).not.toContain(made.get("a%b_c"));
        expect(await engine.count({ includeArchived: true })).toBe(nasty.length + 1);
      });

      it("pages with a keyset cursor in both orders", async () => {
        const outcomes = await engine.enqueue(
          Array.from({ length: 25 }, (_, i) => ({ type: i % 2 === 0 ? "even" : "odd", payload: { i } })),
        );
        const all = outcomes.map((o) => o.job.id);
        async function walk(order: "asc" | "desc", filter: Parameters<Engine["list"]>[0]) {
          const seen: string[] = [];
          const sizes: number[] = [];
          let after: string | undefined;
          for (;;) {
            const page = await engine.list(filter, {
              limit: 10,
              order,
              ...(after === undefined ? {} : { after }),
            });
            sizes.push(page.length);
            seen.push(...page.map((j) => j.id));
            if (page.length < 10) return { seen, sizes };
            after = page.at(-1)!.id;
          }
        }
        const desc = await walk("desc", {});
        expect(desc.sizes).toEqual([10, 10, 5]);
        expect(desc.seen).toEqual([...all].reverse());
        const asc = await walk("asc", {});
        expect(asc.seen).toEqual(all);
        const evens = await walk("asc", { types: ["even"] });
        expect(evens.seen).toEqual(all.filter((_, i) => i % 2 === 0));
        expect(evens.sizes).toEqual([10, 3]);
        // The default order is newest first.
        expect((await engine.list({}, { limit: 3 })).map((j) => j.id)).toEqual(all.slice(-3).reverse());
      });

      it("countByState counts per state and type", async () => {
        await engine.enqueue([{ type: "a" }, { type: "a" }, { type: "b" }]);
        const done = await add({ type: "a" });
        await engine.complete(done.id);
        const failed = await add({ type: "b" });
        await engine.fail(failed.id, { error: "x" });
        const key = (c: StateCount) => `${c.state}/${c.type}`;
        const counts = (await engine.countByState()).map((c) => `${key(c)}=${c.count}`).sort();
        expect(counts).toEqual(["failed/b=1", "queued/a=2", "queued/b=1", "succeeded/a=1"]);
        const onlyA = (await engine.countByState({ types: ["a"] })).map((c) => `${key(c)}=${c.count}`).sort();
        expect(onlyA).toEqual(["queued/a=2", "succeeded/a=1"]);
        expect(await engine.countByState({ workflow: "none" })).toEqual([]);
      });

      it("transitionCounts counts the state changes recorded since a moment, per state", async () => {
        const old = await add();
        await engine.complete(old.id);
        clock.advance(10_000);
        const since = clock.now();
        const [a, b, c] = await engine.enqueue([{ type: "t" }, { type: "t" }, { type: "t" }]);
        await engine.complete(a!.job.id);
        await engine.complete(b!.job.id);
        await engine.fail(c!.job.id, { error: "x", noRetry: true });
        const counts = Object.fromEntries(
          (await engine.transitionCounts(since)).map((t) => [t.state, t.count]),
        );
        expect(counts.succeeded).toBe(2);
        expect(counts.failed).toBe(1);
        expect(counts.queued).toBe(3);
        const all = Object.fromEntries((await engine.transitionCounts(0)).map((t) => [t.state, t.count]));
        expect(all.succeeded).toBe(3);
        expect(await engine.transitionCounts(clock.now() + 1)).toEqual([]);
      });

      it("workflowCounts counts per project, workflow and state, with the latest change", async () => {
        await engine.enqueue([
          { type: "t", workflow: "ship", project: "/p1" },
          { type: "t", workflow: "ship", project: "/p1" },
          { type: "t", workflow: "ship", project: "/p2" },
          { type: "t", project: "/p1" },
        ]);
        clock.advance(1000);
        const done = await add({ workflow: "ship", project: "/p1" });
        await engine.complete(done.id);
        const archived = await add({ workflow: "old", project: "/p1" });
        await engine.archive([archived.id]);
        const key = (c: WorkflowCount) => `${c.project}/${c.workflow}/${c.state}=${c.count}`;
        const rows = await engine.workflowCounts();
        expect(rows.map(key).sort()).toEqual([
          "/p1/ship/queued=2",
          "/p1/ship/succeeded=1",
          "/p2/ship/queued=1",
        ]);
        const succeeded = rows.find((r) => r.state === "succeeded")!;
        expect(succeeded.updatedAt).toBe((await engine.get(done.id)).updatedAt);
        expect(succeeded.updatedAt).toBeGreaterThan(rows.find((r) => r.project === "/p2")!.updatedAt);
        expect((await engine.workflowCounts({ project: "/p2" })).map(key)).toEqual(["/p2/ship/queued=1"]);
        expect((await engine.workflowCounts({ includeArchived: true })).map(key)).toContain(
          "/p1/old/cancelled=1",
        );
      });

      it("clean removes finished jobs by age and state, with their events and attempts", async () => {
        const oldOk = await add();
        const c = await claimOne();
        expect(c.job.id).toBe(oldOk.id);
        await engine.complete(oldOk.id, { token: c.token });
        const oldFailed = await add();
        await engine.fail(oldFailed.id, { error: "x" });
        const oldCancelled = await add();
        await engine.cancel(oldCancelled.id);
        clock.advance(10 * DAY);
        const recentOk = await add();
        await engine.complete(recentOk.id);
        const live = await add();
        clock.advance(SECOND);

        expect(await engine.clean(7 * DAY, ["succeeded"])).toBe(1);
        expect(await store.getJob(oldOk.id)).toBeUndefined();
        expect(await store.attempts(oldOk.id)).toEqual([]);
        expect(await eventsOf(oldOk.id)).toEqual([]);
        expect(await store.getJob(oldFailed.id)).toBeDefined();
        expect(await engine.clean(7 * DAY)).toBe(2);
        expect(await store.getJob(oldCancelled.id)).toBeUndefined();
        expect(await store.getJob(recentOk.id)).toBeDefined();
        expect(await store.getJob(live.id)).toBeDefined();
        expect(await engine.clean(7 * DAY)).toBe(0);
        const cleaned = (await store.events({ limit: 1000 })).filter((e) => e.kind === "cleaned");
        expect(cleaned.map((e) => e.details?.count)).toEqual([1, 2]);
        await rejectsWith(engine.clean(DAY, ["queued"]), "INVALID_INPUT");
        expect(await engine.clean(0)).toBe(1); // the recent one, now older than 0 ms
        expect(await store.getJob(live.id)).toBeDefined();
      });

      it("event ids never repeat, also when clean removes the newest events (they are cursors)", async () => {
        const done = await add();
        await engine.complete(done.id);
        const before = await store.events({ limit: 1000 });
        const newest = Math.max(...before.map((e) => e.id));
        expect(before.find((e) => e.id === newest)?.jobId).toBe(done.id); // its events are the newest

        clock.advance(10 * DAY);
        expect(await engine.clean(7 * DAY)).toBe(1);
        const next = await add();
        const after = (await store.events({ limit: 1000 })).filter((e) => e.jobId !== done.id);
        const fresh = after.filter((e) => e.kind === "cleaned" || e.jobId === next.id);
        expect(fresh.map((e) => e.kind).sort()).toEqual(["cleaned", "enqueued"]);
        for (const e of fresh) expect(e.id).toBeGreaterThan(newest);
        const ids = (await store.events({ limit: 1000 })).map((e) => e.id);
        expect(new Set(ids).size).toBe(ids.length);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("finding jobs", () => {
      it("resolves a full id, a unique prefix and a unique name", async () => {
        const first = await add({ name: "build" });
        clock.advance(400 * DAY); // a different timestamp, so the ids differ early
        const second = await add({ name: "deploy" });
        expect((await engine.resolve(first.id)).id).toBe(first.id);
        expect((await engine.resolve(first.id.toLowerCase())).id).toBe(first.id);
        const prefix = first.id.slice(0, 8);
        expect(second.id.startsWith(prefix)).toBe(false);
        expect((await engine.resolve(prefix)).id).toBe(first.id);
        expect((await engine.resolve(prefix.toLowerCase())).id).toBe(first.id);
        expect((await engine.resolve("deploy")).id).toBe(second.id);
        expect((await store.findJobs(prefix, 10)).map((j) => j.id)).toEqual([first.id]);
        expect((await store.findJobs("build", 10)).map((j) => j.id)).toEqual([first.id]);
        await rejectsWith(engine.resolve("nothing-called-this"), "JOB_NOT_FOUND");
        await rejectsWith(engine.resolve(first.id.slice(0, 3)), "JOB_NOT_FOUND");
      });

      it("an ambiguous prefix or name is AMBIGUOUS_ID listing the candidates", async () => {
        const outcomes = await engine.enqueue([
          { type: "t", name: "twin" },
          { type: "t", name: "twin" },
        ]);
        const [a, b] = outcomes.map((o) => o.job);
        const common = a!.id.slice(0, 10);
        expect(b!.id.startsWith(common)).toBe(true);
        const error = await rejectsWith(engine.resolve(common), "AMBIGUOUS_ID");
        expect([...((error.details?.candidates as string[]) ?? [])].sort()).toEqual([a!.id, b!.id].sort());
        await rejectsWith(engine.resolve("twin"), "AMBIGUOUS_ID");
        expect((await store.findJobs("twin", 10)).map((j) => j.id).sort()).toEqual([a!.id, b!.id].sort());
        expect(await store.findJobs("twin", 1)).toHaveLength(1);
        // Once one of them is finished, the live one is the unambiguous answer.
        await engine.complete(a!.id);
        expect((await engine.resolve("twin")).id).toBe(b!.id);
      });

      it("a name that is another job's id prefix or short id is AMBIGUOUS_ID naming both (finding 6)", async () => {
        const target = await add({ name: "target" });
        clock.advance(1000);
        const prefix = target.id.slice(0, 12);
        const short = shortId(target.id);
        const byPrefix = await add({ name: prefix });
        const byShort = await add({ name: short.toLowerCase() });
        for (const [reference, impostor] of [
          [prefix, byPrefix],
          [short.toLowerCase(), byShort],
        ] as const) {
          const error = await rejectsWith(engine.resolve(reference), "AMBIGUOUS_ID");
          const candidates = (error.details?.candidates as string[]) ?? [];
          expect(candidates).toContain(target.id);
          expect(candidates).toContain(impostor.id);
          expect(error.message).toContain(target.id);
          expect(error.message).toContain(impostor.id);
        }
        // Nothing was picked: both jobs are as they were.
        expect((await engine.get(target.id)).state).toBe("queued");
        // The full id is never ambiguous, and the short id alone finds its job.
        expect((await engine.resolve(target.id)).id).toBe(target.id);
        expect((await engine.resolve(short)).id).toBe(target.id);
        expect((await engine.resolve(target.id.slice(-9).toLowerCase())).id).toBe(target.id);
      });

      it("a short id (the id's last 6 characters) finds ids made in one millisecond apart", async () => {
        const jobs = (await engine.enqueue(Array.from({ length: 20 }, () => ({ type: "t" })))).map(
          (o) => o.job,
        );
        expect(new Set(jobs.map((j) => j.id.slice(0, 10))).size).toBe(1); // one timestamp
        expect(new Set(jobs.map((j) => shortId(j.id))).size).toBe(20);
        for (const job of jobs) expect((await engine.resolve(shortId(job.id))).id).toBe(job.id);
        expect((await store.findJobs(shortId(jobs[3]!.id), 10)).map((j) => j.id)).toEqual([jobs[3]!.id]);
      });

      it("names resolve in the caller's project first, then anywhere; a clash elsewhere is AMBIGUOUS_ID", async () => {
        const here = await add({ name: "build", project: "/here" });
        const there = await add({ name: "build", project: "/there" });
        expect((await engine.resolve("build", "/here")).id).toBe(here.id);
        expect((await engine.resolve("build", "/there")).id).toBe(there.id);
        // A project without a job of that name looks everywhere: two projects have one.
        const error = await rejectsWith(engine.resolve("build", "/elsewhere"), "AMBIGUOUS_ID");
        expect(error.message).toContain("project /here");
        expect(error.message).toContain("project /there");
        const solo = await add({ name: "lint", project: "/there" });
        expect((await engine.resolve("lint", "/here")).id).toBe(solo.id);
        expect((await store.findJobs("build", 10, "/here")).map((j) => j.id)).toEqual([here.id]);
      });

      it("getJob of an unknown id is undefined and findJobs matches nothing", async () => {
        expect(await store.getJob("01ZZZZZZZZZZZZZZZZZZZZZZZZ")).toBeUndefined();
        expect(await store.findJobs("01ZZ", 10)).toEqual([]);
        expect(await store.findJobs("%", 10)).toEqual([]);
        await rejectsWith(engine.get("01ZZZZZZZZZZZZZZZZZZZZZZZZ"), "JOB_NOT_FOUND");
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("explain and scheduling", () => {
      it("explains dependencies, resources, pauses and run_at", async () => {
        const dep = await add({ type: "dep" });
        const waiting = await add({ dependsOn: [dep.id] });
        let explained = await engine.explain(waiting.id);
        expect(explained.state).toBe("waiting");
        expect(explained.facts.unfinishedDependencies).toEqual([{ id: dep.id, state: "queued" }]);
        expect(explained.reasons).toContain(`waiting on dependency ${dep.id} (queued)`);
        await engine.fail(dep.id, { error: "x" });
        explained = await engine.explain(waiting.id);
        expect(explained.reasons.join("\n")).toContain(
          `waiting on dependency ${dep.id} (failed): redrive or skip it`,
        );

        const later = await add({ delayMs: 90 * SECOND });
        explained = await engine.explain(later.id);
        expect(explained.facts.runAt).toBe(clock.now() + 90 * SECOND);
        expect(explained.reasons.join("\n")).toMatch(/run scheduled for .* \(in 90 s\)/);

        const ready = await add({ type: "ready" });
        expect((await engine.explain(ready.id)).reasons.join("\n")).toContain("it is ready");
        await engine.pause("type", "ready");
        await engine.pause("workflow", "none-of-these");
        expect((await engine.explain(ready.id)).reasons).toEqual(["type 'ready' is paused"]);

        expect(await engine.claim({ owner: "w9", types: ["dep"] })).toEqual([]); // failed: not claimable
        const holder = await add({ type: "res", resourceKey: "gpu" });
        const blocked = await add({ type: "res", resourceKey: "gpu" });
        await claimOne("w9", { types: ["res"] });
        explained = await engine.explain(blocked.id);
        expect(explained.facts.resourceHolder).toEqual({ id: holder.id, state: "running" });
        expect((await engine.explain(holder.id)).reasons.join("\n")).toContain("it is running");
        expect((await engine.explain(dep.id)).reasons.join("\n")).toContain("it is finished (failed)");
        await rejectsWith(engine.explain("01ZZZZZZZZZZZZZZZZZZZZZZZZ"), "JOB_NOT_FOUND");
      });

      it("nextRunAt is the earliest run_at among claimable jobs", async () => {
        expect(await store.nextRunAt()).toBeNull();
        const now = clock.now();
        await add({ delayMs: 5000 });
        expect(await store.nextRunAt()).toBe(now + 5000);
        const soon = await add({ delayMs: 1000 });
        expect(await store.nextRunAt()).toBe(now + 1000);
        await add({ dependsOn: [soon.id], runAt: now - 1000 }); // waiting: not claimable
        expect(await store.nextRunAt()).toBe(now + 1000);
        await engine.cancel(soon.id);
        expect(await store.nextRunAt()).toBe(now + 5000);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("payloads", () => {
      it("R-22 unicode, emoji, NUL and lone-surrogate strings round-trip exactly", async () => {
        const payload = {
          strings: NASTY_STRINGS,
          keys: Object.fromEntries(NASTY_STRINGS.map((s, i) => [s, i])),
          numbers: [0, 1, -1, 1.5, 1e-7, 1e21, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
          nested: [[[[{ deep: [null, true, false] }]]]],
        };
        const j = await add({ payload, name: "名前 😀", tags: ["tag-é", "🏷️"] });
        const claimed = await claimOne();
        for (const view of [await job(j.id), claimed.job, (await engine.list({}, { limit: 1 }))[0]!]) {
          expect(JSON.stringify(view.payload)).toBe(JSON.stringify(payload));
          expect(view.payload).toEqual(payload);
          expect((view.payload as typeof payload).strings).toEqual(NASTY_STRINGS);
        }
        expect(await job(j.id)).toMatchObject({ name: "名前 😀", tags: ["tag-é", "🏷️"] });
        await engine.complete(j.id, {
          token: claimed.token,
          result: NASTY_STRINGS,
          evidence: { log: NASTY_STRINGS },
        });
        const done = await job(j.id);
        expect(done.result).toEqual(NASTY_STRINGS);
        expect(done.evidence).toEqual({ log: NASTY_STRINGS });
        for (const s of NASTY_STRINGS) {
          const [o] = await engine.enqueue({ type: "scalar", payload: s });
          const back = (await job(o!.job.id)).payload as string;
          expect(back.length).toBe(s.length);
          expect([...back].map((ch) => ch.codePointAt(0))).toEqual([...s].map((ch) => ch.codePointAt(0)));
        }
      });

      it("R-22 1,000 random payloads round-trip exactly; rejected ones write nothing", async () => {
        const random = prng(22);
        const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
        const randomString = (): string => {
          const length = Math.floor(random() * 40);
          let s = "";
          for (let i = 0; i < length; i++) {
            const kind = random();
            if (kind < 0.4) s += String.fromCharCode(32 + Math.floor(random() * 95));
            else if (kind < 0.55) s += String.fromCharCode(Math.floor(random() * 32));
            else if (kind < 0.7)
              s += String.fromCharCode(0xd800 + Math.floor(random() * 0x800)); // any surrogate
            else if (kind < 0.85) s += String.fromCodePoint(0x1f300 + Math.floor(random() * 0x300));
            else s += String.fromCharCode(0x80 + Math.floor(random() * 0xff00));
          }
          return s;
        };
        const randomValue = (depth: number): unknown => {
          const kind = random();
          if (depth > 3 || kind < 0.35) return randomString();
          if (kind < 0.45) return Math.floor(random() * 2 ** 53) * (random() < 0.5 ? -1 : 1);
          if (kind < 0.5) return random() * 1e6;
          if (kind < 0.55) return pick([true, false, null]);
          if (kind < 0.75)
            return Array.from({ length: Math.floor(random() * 5) }, () => randomValue(depth + 1));
          return Object.fromEntries(
            Array.from({ length: Math.floor(random() * 5) }, () => [randomString(), randomValue(depth + 1)]),
          );
        };
        const payloads = Array.from({ length: 1000 }, (_, i) =>
          i % 100 === 0 ? "x".repeat(Math.floor(random() * 20_000)) : { i, v: randomValue(0) },
        );
        const outcomes = await engine.enqueue(payloads.map((payload) => ({ type: "fuzz", payload })));
        const stored = await engine.list({ types: ["fuzz"] }, { limit: 2000, order: "asc" });
        expect(stored.map((j) => j.id)).toEqual(outcomes.map((o) => o.job.id));
        stored.forEach((j, i) => {
          expect(JSON.stringify(j.payload)).toBe(JSON.stringify(payloads[i]));
        });

        const small = new Engine(store, { clock, maxPayloadBytes: 1024 });
        const rejected: unknown[] = [
          "y".repeat(1023),
          { n: Number.NaN },
          { b: 1n },
          { f: () => 0 },
          Symbol("x"),
        ];
        for (const payload of rejected) {
          const error = await small.enqueue({ type: "fuzz", payload }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(BatonError);
          expect(["PAYLOAD_TOO_LARGE", "INVALID_INPUT"]).toContain((error as BatonError).code);
        }
        expect(await engine.count({ types: ["fuzz"] })).toBe(1000);
      });
    });

    // ---------------------------------------------------------------------------------------------
    describe("a lock taken with an insert", () => {
      const claim = (owner: string, staleToken?: string) => ({
        name: "task:p#lk",
        owner,
        ttlMs: 60 * SECOND,
        ...(staleToken === undefined ? {} : { staleToken }),
        held: (current: { owner: string }) => new Error(`held by ${current.owner}`),
      });

      it("inserts the job and takes the lock in one transaction; a held lock inserts nothing", async () => {
        const first = await store.insertWithLock(engine.prepare({ type: "t" }), "test", claim("a"));
        expect((await store.getLock("task:p#lk"))?.owner).toBe("a");
        const before = await engine.count({});
        await expect(store.insertWithLock(engine.prepare({ type: "t" }), "test", claim("b"))).rejects.toThrow(
          "held by a",
        );
        expect(await engine.count({})).toBe(before);
        expect((await store.getJob(first.job.id))?.state).toBe("queued");
        // A holder judged stale (its token named) is replaced; a stale token that no longer holds is not.
        const token = (await store.getLock("task:p#lk"))!.token;
        await store.insertWithLock(engine.prepare({ type: "t" }), "test", claim("c", token));
        expect((await store.getLock("task:p#lk"))?.owner).toBe("c");
        await expect(
          store.insertWithLock(engine.prepare({ type: "t" }), "test", claim("d", token)),
        ).rejects.toThrow("held by c");
        expect(await engine.count({})).toBe(before + 1);
      });

      it("concurrent inserts with one lock: exactly one gets it", async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            store.insertWithLock(engine.prepare({ type: "t" }), "test", claim(`w${i}`)),
          ),
        );
        expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
        expect(await engine.count({})).toBe(1);
      });
    });

    describe("no job is stranded", () => {
      it("after any mix of outcomes every job is terminal, claimable, waiting on a dependency, or leased", async () => {
        const random = prng(7);
        const specs = Array.from({ length: 60 }, (_, i) => ({
          type: "mix",
          maxAttempts: 1 + (i % 3),
          backoff: { ...EXACT_BACKOFF, baseMs: 100 },
        }));
        await engine.enqueue(specs);
        for (let round = 0; round < 12; round++) {
          const claimed = await engine.claim({ owner: `w${round}`, limit: 10, leaseMs: 500 });
          for (const c of claimed) {
            const roll = random();
            if (roll < 0.2) await engine.complete(c.job.id, { token: c.token });
            else if (roll < 0.4) await engine.fail(c.job.id, { token: c.token, error: "e" });
            else if (roll < 0.5) await engine.timeout(c.job.id, { token: c.token });
            else if (roll < 0.6) await engine.release(c.job.id, c.token);
            else if (roll < 0.65) await engine.cancel(c.job.id);
            // else: the worker "crashes" and the lease expires
          }
          clock.advance(600);
        }
        const all = await engine.list({ includeArchived: true }, { limit: 100 });
        expect(all).toHaveLength(60);
        for (const j of all) expectNotStranded(j);
        // Driving the clock forward and claiming repeatedly drains every live job.
        for (let i = 0; i < 200; i++) {
          clock.advance(10 * SECOND);
          const claimed = await engine.claim({ owner: "drain", limit: 60, leaseMs: 1000 });
          for (const c of claimed) await engine.complete(c.job.id, { token: c.token });
          if ((await engine.count({ states: ["queued", "retrying", "running", "waiting"] })) === 0) break;
        }
        const states = new Set<JobState>((await engine.list({}, { limit: 100 })).map((j) => j.state));
        for (const s of states) expect(isTerminal(s)).toBe(true);
      });
    });
  });
}
